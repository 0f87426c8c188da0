//! A result file applied to its batch: the lines that succeeded recorded as payouts (by their
//! detail numbers, so uploading the file again records nothing twice), the failed and pending
//! ones noted with their reasons, and whatever does not match the batch listed as a problem.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::owed::Batch;
use super::results::{ResultLine, Status};
use super::{batches_scope, payout_command, submit, Payout};
use crate::auth::{Eco, Need};
use crate::error::ApiResult;

/// Applies `results` to `batch` and answers what happened to each line.
pub async fn apply<N: Need>(
    eco: &Eco<N>,
    mut batch: Batch,
    results: Vec<ResultLine>,
    problems: Vec<(usize, String)>,
) -> ApiResult<Value> {
    let at: HashMap<String, usize> = batch
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| (l.detail_no.clone(), i))
        .collect();
    let mut problems: Vec<Value> = problems
        .into_iter()
        .map(|(line, message)| json!({"line": line, "message": message}))
        .collect();
    let (mut paid, mut failed, mut pending) = (Vec::new(), Vec::new(), Vec::new());
    for r in results {
        let Some(&i) = at.get(&r.detail_no) else {
            problems.push(json!({"line": r.line, "detail_no": r.detail_no,
                "message": "not a line of this batch"}));
            continue;
        };
        let want = batch.lines[i].amount_fen;
        if r.amount_fen.is_some_and(|a| a != want) {
            problems.push(json!({"line": r.line, "detail_no": r.detail_no, "message": format!(
                "the file says {} fen, the batch {want} fen: not recorded", r.amount_fen.unwrap_or(0))}));
            continue;
        }
        match r.status {
            Status::Paid => paid.push(i),
            Status::Failed => failed.push((i, r.reason)),
            Status::Pending => pending.push(i),
        }
    }
    let recorded = record(eco, &mut batch, &paid).await?;
    let line = |i: usize| line_json(&batch, i);
    let failed_json: Vec<Value> = failed
        .iter()
        .map(|(i, reason)| {
            let mut v = line(*i);
            v["reason"] = json!(reason);
            v
        })
        .collect();
    let pending_json: Vec<Value> = pending.iter().map(|i| line_json(&batch, *i)).collect();
    for (i, reason) in &failed {
        batch.lines[*i].status = Status::Failed.as_str().into();
        batch.lines[*i].reason = reason.clone();
    }
    for i in &pending {
        batch.lines[*i].status = Status::Pending.as_str().into();
    }
    save(eco, &batch).await?;
    Ok(json!({
        "batch_no": batch.batch_no,
        "recorded": recorded.0, "already_recorded": recorded.1, "rejected": recorded.2,
        "failed": failed_json, "pending": pending_json, "problems": problems,
    }))
}

fn line_json(batch: &Batch, i: usize) -> Value {
    let l = &batch.lines[i];
    json!({"detail_no": l.detail_no, "account": l.account, "amount_fen": l.amount_fen})
}

/// Records the paid lines `paid` as payouts; marks each recorded one paid. Returns the lines
/// recorded now, those recorded before, and those the engine refused (with why).
async fn record<N: Need>(
    eco: &Eco<N>,
    batch: &mut Batch,
    paid: &[usize],
) -> ApiResult<(Vec<Value>, Vec<Value>, Vec<Value>)> {
    let (mut now, mut before, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    if paid.is_empty() {
        return Ok((now, before, refused));
    }
    let payouts: Vec<Payout> = paid
        .iter()
        .map(|&i| {
            let l = &batch.lines[i];
            Payout {
                account: l.account.clone(),
                amount_fen: json!(l.amount_fen),
                reference: json!(l.detail_no),
            }
        })
        .collect();
    let commands: Vec<String> = payouts.iter().map(payout_command).collect();
    let outcomes = submit(&eco.economy, &commands, Vec::new()).await?;
    for (&i, o) in paid.iter().zip(&outcomes) {
        let l = &mut batch.lines[i];
        let v = json!({"detail_no": l.detail_no, "account": l.account, "amount_fen": l.amount_fen});
        match o.result {
            Ok(()) => {
                l.status = Status::Paid.as_str().into();
                l.reason.clear();
                if o.retry {
                    before.push(v)
                } else {
                    now.push(v)
                }
            }
            Err(code) => {
                l.status = "refused".into();
                l.reason = code.as_str().into();
                let mut v = v;
                v["code"] = json!(code.as_str());
                v["message"] = json!(refusal(code));
                refused.push(v);
            }
        }
    }
    Ok((now, before, refused))
}

fn refusal(code: jifen_core::Code) -> &'static str {
    match code {
        jifen_core::Code::PayoutExceedsOwed => {
            "more than the account is owed now: was it paid in another batch?"
        }
        jifen_core::Code::IdConflict => {
            "this detail number was recorded before with another amount"
        }
        _ => "the payout was refused",
    }
}

async fn save<N: Need>(eco: &Eco<N>, batch: &Batch) -> ApiResult<()> {
    let text = serde_json::to_string(batch).map_err(crate::error::ApiError::internal)?;
    let (scope, key) = (batches_scope(eco.economy.id()), batch.batch_no.clone());
    eco.app
        .store
        .run(move |s| s.kv_put(&scope, &key, &text))
        .await?;
    Ok(())
}
