//! `jifen cluster status` against the PostgreSQL cluster `scripts/test` starts (issue 9).

mod common;
#[path = "../../journal/tests/support/mod.rs"]
mod support;

use jifen_journal::cluster::Cluster;
use support::Backend;

#[test]
fn cluster_status_shows_nodes_and_leases() {
    let b = Backend::postgres();
    let Backend::Postgres { url, .. } = &b else {
        unreachable!()
    };
    let now = jifen_journal::time::now_ms();
    let mut c = Cluster::connect(url).unwrap();
    c.heartbeat("node-1", "http://127.0.0.1:9001", now).unwrap();
    c.heartbeat("node-2", "http://127.0.0.1:9002", now - 60_000)
        .unwrap();
    c.acquire("brand-a", "node-1", now, 60_000)
        .unwrap()
        .unwrap();
    c.acquire("brand-b", "node-2", now - 120_000, 1_000)
        .unwrap()
        .unwrap();
    // node-1 takes brand-b over: its lease lapsed.
    let taken = c
        .acquire("brand-b", "node-1", now, 60_000)
        .unwrap()
        .unwrap();
    assert_eq!(taken.epoch, 2);
    let (out, text) = common::run(
        common::jifen()
            .args(b.cli_args())
            .args(["cluster", "status"]),
    );
    assert!(out.status.success(), "{text}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("2 node(s)"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("node-1") && l.contains("live")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("node-2") && l.contains("gone")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("brand-b") && l.contains("owner node-1") && l.contains("epoch 2")),
        "{stdout}"
    );
}

/// One `jifen serve` node of a cluster on the test PostgreSQL.
struct Node {
    child: std::process::Child,
    port: u16,
    id: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const ADMIN: &str = "cluster-admin-key-0123456789";

/// The nodes' shared signing seed, in `dir`: private, since the server refuses a key file others
/// can read.
fn signing_key(dir: &std::path::Path, digit: char) -> std::path::PathBuf {
    let path = dir.join("signing.key");
    std::fs::write(&path, digit.to_string().repeat(64)).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}
const LEASE_MS: u64 = 1000;

fn start_node(url: &str, id: &str, signing_key: &std::path::Path, dir: &std::path::Path) -> Node {
    let port = free_port();
    let child = common::jifen()
        .args(["--database", url, "--data"])
        .arg(dir.join(id))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--node-id",
            id,
            "--advertise",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args(["--lease-ms", &LEASE_MS.to_string(), "--signing-key"])
        .arg(signing_key)
        .env("JIFEN_ADMIN_KEY", ADMIN)
        .env("JIFEN_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Node {
        child,
        port,
        id: id.to_string(),
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP request with a deadline; `None` when no answer came in time.
fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout_ms: u64,
) -> Option<(u16, serde_json::Value)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let t = Some(std::time::Duration::from_millis(timeout_ms));
    s.set_read_timeout(t).ok()?;
    s.set_write_timeout(t).ok()?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let json = out
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    Some((status, json))
}

fn register(port: u16, eco: &str, id: &str, timeout_ms: u64) -> Option<serde_json::Value> {
    let body = format!(r#"{{"type":"register_consumer","id":"{id}","account":"{id}"}}"#);
    let (status, v) = request(
        port,
        "POST",
        &format!("/v1/economies/{eco}/commands"),
        Some(&body),
        timeout_ms,
    )?;
    (status == 200).then(|| v["outcomes"][0].clone())
}

/// Leases held by live owners, by economy.
fn owners(c: &mut Cluster) -> std::collections::BTreeMap<String, String> {
    let now = jifen_journal::time::now_ms();
    c.leases()
        .unwrap()
        .into_iter()
        .filter(|l| l.expires_ms >= now)
        .map(|l| (l.economy, l.owner))
        .collect()
}

/// Registers consumers through `port` until `eco` accepts one, and checks that this took at
/// most two lease periods; returns the milliseconds it took.
fn writable_again(port: u16, eco: &str, prefix: &str) -> u64 {
    let mut i = 0;
    let took = wait_until(&format!("{eco} writable ({prefix})"), 4 * LEASE_MS, || {
        i += 1;
        register(port, eco, &format!("{prefix}-{i}"), 200).is_some_and(|o| o["ok"] == true)
    });
    assert!(took <= 2 * LEASE_MS, "writable again after {took} ms");
    took
}

fn wait_until(what: &str, limit_ms: u64, mut done: impl FnMut() -> bool) -> u64 {
    let start = std::time::Instant::now();
    while start.elapsed().as_millis() < limit_ms as u128 {
        if done() {
            return start.elapsed().as_millis() as u64;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{what}: not within {limit_ms} ms");
}

/// Issue 9's failover test: three nodes and twenty economies under concurrent load; the owner
/// of a busy economy is SIGKILLed, and another frozen with SIGSTOP past its lease and resumed.
/// Nothing acknowledged is lost or applied twice, each economy is writable again within twice
/// the lease, the resumed node's late writes are refused by fencing with an error, every
/// economy is spread within one of even, a client of one non-owner node gets correct answers,
/// and `jifen verify` passes.
#[test]
fn failover_without_loss_or_split_brain() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let b = Backend::postgres();
    let Backend::Postgres { url, .. } = &b else {
        unreachable!()
    };
    let dir = common::temp_dir("cluster");
    let signing = signing_key(&dir, '7');
    let mut nodes: Vec<Node> = ["n1", "n2", "n3"]
        .iter()
        .map(|id| start_node(url, id, &signing, &dir))
        .collect();
    let economies: Vec<String> = (0..20).map(|i| format!("brand-{i:02}")).collect();
    for e in &economies {
        let body = format!(r#"{{"id":"{e}","name":"{e}"}}"#);
        let (status, v) =
            request(nodes[0].port, "POST", "/v1/economies", Some(&body), 5000).unwrap();
        assert_eq!(status, 201, "{v}");
    }
    let mut c = Cluster::connect(url).unwrap();
    wait_until("every economy owned", 10_000, || owners(&mut c).len() == 20);
    let spread = |c: &mut Cluster, live: &[&str]| {
        let o = owners(c);
        let counts: Vec<usize> = live
            .iter()
            .map(|n| o.values().filter(|x| x == n).count())
            .collect();
        (counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1)
            && counts.iter().sum::<usize>() == 20
    };
    wait_until("balanced over three nodes", 10_000, || {
        spread(&mut c, &["n1", "n2", "n3"])
    });

    // Load: threads send commands with fresh ids to any economy through any node.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(String, String, u64)>>> = Arc::default();
    let ports: Arc<Mutex<Vec<u16>>> = Arc::new(Mutex::new(nodes.iter().map(|n| n.port).collect()));
    let mut load = Vec::new();
    for t in 0..4 {
        let (stop, acked, ports, economies) = (
            stop.clone(),
            acked.clone(),
            ports.clone(),
            economies.clone(),
        );
        load.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let eco = &economies[(n as usize * 7 + t) % economies.len()];
                let port = {
                    let p = ports.lock().unwrap();
                    p[(n as usize + t) % p.len()]
                };
                let id = format!("t{t}-{n}");
                if let Some(o) = register(port, eco, &id, 3000) {
                    if o["ok"] == true {
                        acked
                            .lock()
                            .unwrap()
                            .push((eco.clone(), id, o["seq"].as_u64().unwrap()));
                    }
                }
            }
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));

    // SIGKILL the owner of a busy economy.
    let o = owners(&mut c);
    let victim_eco = economies[0].clone();
    let victim = o[&victim_eco].clone();
    let vi = nodes.iter().position(|n| n.id == victim).unwrap();
    let killed = nodes.remove(vi);
    ports.lock().unwrap().retain(|p| *p != killed.port);
    drop(killed); // SIGKILL
    let survivor = nodes[0].port;
    let took = writable_again(survivor, &victim_eco, "after-kill");
    eprintln!("after SIGKILL of {victim}: {victim_eco} writable again in {took} ms");
    let live: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    wait_until("rebalanced over the two left", 10_000, || {
        spread(&mut c, &live)
    });

    // SIGSTOP the owner of another economy for longer than its lease, with a write waiting.
    let o = owners(&mut c);
    let frozen_eco = o
        .iter()
        .find(|(_, owner)| **owner == nodes[1].id)
        .map(|(e, _)| e.clone())
        .unwrap();
    let frozen_port = nodes[1].port;
    let frozen_pid = nodes[1].child.id().to_string();
    let other = nodes[0].port;
    std::process::Command::new("kill")
        .args(["-STOP", &frozen_pid])
        .status()
        .unwrap();
    let late = {
        let eco = frozen_eco.clone();
        let body = r#"{"type":"register_consumer","id":"late-write","account":"late-write"}"#;
        std::thread::spawn(move || {
            request(
                frozen_port,
                "POST",
                &format!("/v1/economies/{eco}/commands"),
                Some(body),
                15_000,
            )
        })
    };
    let took = writable_again(other, &frozen_eco, "after-stop");
    eprintln!("after SIGSTOP: {frozen_eco} writable again in {took} ms");
    std::thread::sleep(std::time::Duration::from_millis(LEASE_MS));
    std::process::Command::new("kill")
        .args(["-CONT", &frozen_pid])
        .status()
        .unwrap();
    let late = late.join().unwrap().expect("the resumed node answers");
    // Where the economy is now, once it has settled (503 while it moves back).
    let mut answer = None;
    for _ in 0..100 {
        answer = request(
            other,
            "GET",
            &format!("/v1/economies/{frozen_eco}/accounts/late-write"),
            None,
            3000,
        );
        if answer.as_ref().is_some_and(|(status, _)| *status != 503) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (present, _) = answer.unwrap();
    match late {
        // Read by the resumed node after it had let the economy go: forwarded to the new
        // owner, which applied it once. Correct, and not a late write of the old owner.
        (200, v) if v["outcomes"][0]["ok"] == true => {
            assert_eq!(present, 200, "an acknowledged write is there: {v}");
            eprintln!("the write waiting at the frozen node was forwarded to the new owner");
        }
        // Taken by the stale writer: fenced, an error to the caller, and no trace.
        (status, v) => {
            assert_eq!(status, 503, "the late write got an error: {v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("fenced")
                    || v["error"]["code"] == "unavailable",
                "{v}"
            );
            assert_eq!(present, 404, "a fenced write left no trace");
            eprintln!("the late write was refused: {}", v["error"]["message"]);
        }
    }

    std::thread::sleep(std::time::Duration::from_millis(1000));
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.join().unwrap();
    }

    // Nothing acknowledged was lost or applied twice: every acknowledged id, sent again,
    // is a retry with its first seq.
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "only {} commands acknowledged",
        acked.len()
    );
    for (eco, id, seq) in &acked {
        // (Economies may be moving back to the resumed node: retry a moment later.)
        let o = (0..100)
            .find_map(|_| {
                let o = register(nodes[0].port, eco, id, 5000);
                if o.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                o
            })
            .expect("an answer");
        assert_eq!(
            (o["ok"].clone(), o["seq"].as_u64()),
            (serde_json::json!(true), Some(*seq)),
            "{eco} {id}: {o}"
        );
    }

    // A client of one non-owner node gets correct answers.
    let o = owners(&mut c);
    let (eco, owner) = o.iter().next().unwrap();
    let client = nodes.iter().find(|n| &n.id != owner).unwrap().port;
    let direct = nodes.iter().find(|n| &n.id == owner).unwrap().port;
    wait_until("settled ownership", 10_000, || {
        spread(&mut c, &["n1", "n2"])
            || spread(&mut c, &["n1", "n3"])
            || spread(&mut c, &["n2", "n3"])
    });
    for path in [
        format!("/v1/economies/{eco}"),
        format!("/v1/economies/{eco}/state"),
        format!("/v1/economies/{eco}/events?limit=5"),
        format!("/v1/economies/{eco}/leaderboard"),
        format!("/v1/economies/{eco}/rules"),
        format!("/v1/economies/{eco}/accounts?q=t"),
    ] {
        let via = request(client, "GET", &path, None, 5000).unwrap();
        let at = request(direct, "GET", &path, None, 5000).unwrap();
        assert_eq!(via, at, "{path} through a non-owner");
    }
    let key = request(
        client,
        "POST",
        &format!("/v1/economies/{eco}/keys"),
        Some(r#"{"role":"auditor"}"#),
        5000,
    )
    .unwrap();
    assert_eq!(key.0, 201, "{:?}", key.1);
    // Every other kind of endpoint answers through the non-owner as on the owner.
    let (status, made) = request(
        client,
        "POST",
        &format!("/v1/economies/{eco}/commands"),
        Some(r#"[{"type":"register_merchant","id":"route-m","account":"shop"},{"type":"register_consumer","id":"route-c","account":"route-c"},{"type":"pay_order","id":"route-p","order":"route-o","consumer":"route-c","merchant":"shop","cash_fen":10000,"stable_fen":0}]"#),
        5000,
    )
    .unwrap();
    assert_eq!(status, 200, "{made}");
    for (method, path, body) in [
        ("GET", format!("/v1/economies/{eco}/overview"), None),
        (
            "GET",
            format!("/v1/economies/{eco}/orders?status=pending"),
            None,
        ),
        ("GET", format!("/v1/economies/{eco}/orders/route-o"), None),
        (
            "GET",
            format!("/v1/economies/{eco}/orders/route-o/preview?action=confirm"),
            None,
        ),
        ("GET", format!("/v1/economies/{eco}/settlements"), None),
        (
            "GET",
            format!("/v1/economies/{eco}/price-history?from=0&to=9999999999999&step=36500d"),
            None,
        ),
        ("GET", format!("/v1/economies/{eco}/rules/history"), None),
        ("GET", format!("/v1/economies/{eco}/keys"), None),
        (
            "GET",
            format!("/v1/economies/{eco}/accounts/shop/history"),
            None,
        ),
        (
            "POST",
            format!("/v1/economies/{eco}/tree-heads"),
            Some("{}"),
        ),
        (
            "GET",
            format!("/v1/economies/{eco}/tree-heads/latest"),
            None,
        ),
        (
            "GET",
            format!("/v1/economies/{eco}/proofs/inclusion?seq=1"),
            None,
        ),
        ("GET", format!("/v1/economies/{eco}/verify"), None),
        ("GET", format!("/v1/economies/{eco}/outbox"), None),
        ("GET", "/v1/economies".to_string(), None),
    ] {
        let (status, v) = request(client, method, &path, body, 5000).unwrap();
        assert_eq!(status, 200, "{method} {path} through a non-owner: {v}");
    }
    // The wallet too: its token names the economy, and the request goes where it lives.
    let (status, link) = request(
        client,
        "POST",
        &format!("/v1/economies/{eco}/wallet-links"),
        Some(r#"{"account":"route-c"}"#),
        5000,
    )
    .unwrap();
    assert!(status == 200 || status == 201, "{link}");
    let token = link["token"].as_str().unwrap();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", client)).unwrap();
    {
        use std::io::{Read, Write};
        write!(s, "GET /v1/wallet HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Wallet-Token: {token}\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 200"),
            "the wallet through a non-owner: {out}"
        );
    }

    // The key made through the non-owner works there and on the owner alike.
    let auditor = key.1["key"].as_str().unwrap().to_string();
    for port in [client, direct] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        use std::io::{Read, Write};
        write!(s, "GET /v1/economies/{eco}/state HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {auditor}\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    }

    // A new node takes its share without a stop: writes keep succeeding while it joins.
    let survivors: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
    nodes.push(start_node(url, "n4", &signing, &dir));
    let mut with_new: Vec<&str> = survivors.iter().map(String::as_str).collect();
    with_new.push("n4");
    let mut i = 0;
    let mut failed = 0;
    wait_until("balanced with the new node", 15_000, || {
        i += 1;
        let eco = &economies[i % economies.len()];
        // A write lands on each economy, at most a retry later, while shares move.
        if register(nodes[0].port, eco, &format!("join-{i}"), 2000).is_none_or(|o| o["ok"] != true)
        {
            failed += 1;
        }
        spread(&mut c, &with_new)
    });
    assert!(
        owners(&mut c).values().any(|o| o == "n4"),
        "the new node took economies"
    );
    eprintln!("writes refused while the new node joined (retried by clients): {failed} of {i}");
    drop(nodes);

    let (out, text) = common::run(common::jifen().args(["--database", url, "verify"]));
    assert!(out.status.success(), "{text}");
}

/// A console session signed out on one node is refused on every other (issue 18).
#[test]
fn a_session_signed_out_on_one_node_is_refused_on_another() {
    let b = Backend::postgres();
    let Backend::Postgres { url, .. } = &b else {
        unreachable!()
    };
    let dir = common::temp_dir("cluster-sign-out");
    let signing = signing_key(&dir, '5');
    let nodes: Vec<Node> = ["a1", "a2"]
        .iter()
        .map(|id| start_node(url, id, &signing, &dir))
        .collect();
    let addr = |n: &Node| format!("127.0.0.1:{}", n.port);
    let (cookie, csrf) = common::sign_in(&addr(&nodes[0]), ADMIN);
    for n in &nodes {
        let status = common::with_session(&addr(n), "GET", "/v1/economies", &cookie, &csrf);
        assert_eq!(status, 200, "node {}", n.id);
    }
    let status = common::with_session(&addr(&nodes[0]), "DELETE", "/v1/session", &cookie, &csrf);
    assert_eq!(status, 200);
    for n in &nodes {
        let status = common::with_session(&addr(n), "GET", "/v1/economies", &cookie, &csrf);
        assert_eq!(
            status, 401,
            "node {} still honours a signed-out session",
            n.id
        );
    }
    for mut n in nodes {
        let _ = n.child.kill();
        let _ = n.child.wait();
    }
}
