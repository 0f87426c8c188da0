// Shared by every page (inlined where a page says COMMON_JS): the words for every error code
// the server can answer, in Chinese and English, and numbers and times written for people.
// A unit test in the server keeps every code the engine and the HTTP edge can send listed here.
const JF = (() => {
  const MESSAGES = {
    zh: {
      // the engine's outcome codes (SPEC §5 and after)
      invalid_command: "请求内容不完整或格式有误",
      id_conflict: "这个操作编号已用于另一项不同的操作",
      invalid_amount: "金额或数量超出允许范围",
      unknown_referrer: "推荐人不存在",
      duplicate_account: "这个账户已经存在",
      unknown_account: "账户不存在",
      not_a_consumer: "这个账户不是消费者账户",
      not_a_merchant: "这个账户不是商户账户",
      duplicate_order: "这个订单号已经存在",
      insufficient_stable: "稳定积分余额不足",
      unknown_order: "订单不存在",
      order_not_pending: "订单不在待确认状态",
      insufficient_points: "可用积分不足",
      amount_too_small: "数量太小，折算后不足 1 分",
      supply_exhausted: "积分发行量已达上限",
      invalid_day: "日期无效",
      already_settled: "这一天已经结算过",
      invalid_rules: "规则取值超出允许范围",
      invalid_time: "时间早于上一条记录，或格式无效",
      invalid_policy: "藏品设置无效",
      duplicate_collectible: "这个藏品编号已经存在",
      order_not_confirmed: "订单尚未确认",
      unknown_collectible: "藏品不存在",
      collectible_not_held: "该账户并不持有这个藏品",
      gifting_disabled: "本商城未开放藏品转赠",
      holding_period: "藏品仍在持有期内，暂不能转出",
      exchange_disabled: "本商城未开放外部交易所",
      collectible_not_exported: "藏品不在交易所，无法取回",
      payout_exceeds_owed: "付款金额超过应付金额",
      invalid_tiers: "等级表无效：首级门槛须为 0，且逐级升高",
      account_frozen: "账户已冻结，暂不能卖出、转换或转赠",
      account_not_frozen: "账户未被冻结",
      duplicate_award: "这个奖励名称已经用过",
      invalid_risk_rules: "风控规则无效：请填写每一项，并在允许范围内",
      order_held: "订单正在风控审核中，审核通过后才会确认",
      order_not_held: "这笔订单没有在风控审核中（可能已被处理）",
      // the HTTP edge
      bad_request: "请求格式有误",
      bad_signature: "签名校验失败",
      batch_too_large: "一次提交的操作太多",
      body_too_large: "提交的内容太大",
      connector_disabled: "该店铺连接已停用",
      csrf_failed: "页面已过期，请刷新后重试",
      duplicate_connector: "这个连接编号已经存在",
      duplicate_webhook: "这个通知编号已经存在",
      economy_exists: "这个商城编号已经存在",
      forbidden: "当前密钥无权执行此操作",
      internal: "服务器内部错误，请联系技术支持",
      invalid_request: "输入有误，请检查后重试",
      invalid_term: "这个名称不能使用（不得使用投资类词语）",
      malformed_json: "请求内容不是有效的 JSON",
      method_not_allowed: "不支持这种请求方式",
      no_tree_head: "账本尚无签名的校验根",
      not_found: "没有找到",
      not_retryable: "这条记录不能重试",
      not_signed_yet: "这条记录尚未签名，请稍后再试",
      rate_limited: "操作太频繁，请稍后再试",
      reserved_id: "这个编号留给系统使用",
      timeout: "处理超时，请稍后再试",
      too_many_webhooks: "通知地址数量已达上限",
      unauthorized: "链接或登录已失效，请重新获取",
      unavailable: "系统繁忙，请稍后再试",
      unsupported_media_type: "不支持的内容类型",
      uri_too_long: "链接太长",
      what_if_running: "另一项规则预演正在进行，请稍后再试",
      invalid_import: "导入文件有错误行，未导入任何会员",
      bad_csv: "这一行不是有效的 CSV",
      bad_header: "第一行须为表头：账户,显示名,推荐人,身份",
      bad_account: "账户名须为 1 至 64 个字母、数字或 _ . : @ -",
      bad_display_name: "显示名最多 32 个字，且不能含控制字符",
      bad_identity: "身份须为“类型:编号”（如 phone:13800138000）或手机号",
      duplicate_identity: "这个身份已关联到其他账户",
      network: "网络连接失败，请检查网络后重试",
      error: "操作未能完成",
    },
    en: {
      invalid_command: "The request is incomplete or malformed",
      id_conflict: "This operation id was already used for a different operation",
      invalid_amount: "The amount is outside the allowed range",
      unknown_referrer: "No such referrer",
      duplicate_account: "This account already exists",
      unknown_account: "No such account",
      not_a_consumer: "This account is not a consumer",
      not_a_merchant: "This account is not a merchant",
      duplicate_order: "This order number already exists",
      insufficient_stable: "Not enough stable points",
      unknown_order: "No such order",
      order_not_pending: "The order is not waiting for confirmation",
      insufficient_points: "Not enough free points",
      amount_too_small: "Too small: worth less than 1 fen",
      supply_exhausted: "The points supply has reached its limit",
      invalid_day: "Not a valid day",
      already_settled: "That day is already settled",
      invalid_rules: "A rule is outside its allowed range",
      invalid_time: "The time is before the last record, or malformed",
      invalid_policy: "The collectibles policy is not valid",
      duplicate_collectible: "This collectible id already exists",
      order_not_confirmed: "The order is not confirmed yet",
      unknown_collectible: "No such collectible",
      collectible_not_held: "The account does not hold this collectible",
      gifting_disabled: "Gifting collectibles is turned off here",
      holding_period: "The collectible is still in its holding period",
      exchange_disabled: "The outside exchange is turned off here",
      collectible_not_exported: "The collectible is not on the exchange",
      payout_exceeds_owed: "The payout is more than is owed",
      invalid_tiers: "Invalid tier table: the first threshold is 0 and each next one is higher",
      account_frozen: "The account is frozen: it cannot sell, convert or gift for now",
      account_not_frozen: "The account is not frozen",
      duplicate_award: "This award name was already used",
      invalid_risk_rules: "Invalid risk rules: give every rule, within its bounds",
      order_held: "The order is held for review; it is confirmed only once approved",
      order_not_held: "The order is not held for review (it may have been decided already)",
      bad_request: "The request is malformed",
      bad_signature: "The signature does not match",
      batch_too_large: "Too many operations in one request",
      body_too_large: "The request is too large",
      connector_disabled: "This shop connection is disabled",
      csrf_failed: "The page has expired: reload it and try again",
      duplicate_connector: "This connection id already exists",
      duplicate_webhook: "This webhook id already exists",
      economy_exists: "This economy id already exists",
      forbidden: "This key may not do that",
      internal: "Internal server error: please contact support",
      invalid_request: "Invalid input: please check and try again",
      invalid_term: "This name cannot be used (no investment words)",
      malformed_json: "The request is not valid JSON",
      method_not_allowed: "This method is not allowed here",
      no_tree_head: "The journal has no signed tree head yet",
      not_found: "Not found",
      not_retryable: "This record cannot be retried",
      not_signed_yet: "Not signed yet: try again shortly",
      rate_limited: "Too many requests: try again shortly",
      reserved_id: "This id is reserved",
      timeout: "Timed out: try again shortly",
      too_many_webhooks: "The limit of webhooks is reached",
      unauthorized: "The link or session is no longer valid: ask for a new one",
      unavailable: "Busy: please try again shortly",
      unsupported_media_type: "Unsupported content type",
      uri_too_long: "The address is too long",
      what_if_running: "Another what-if is running: try again shortly",
      invalid_import: "The file has bad lines: no member was imported",
      bad_csv: "This line is not valid CSV",
      bad_header: "The first line must be the header: account,display_name,referrer,identity",
      bad_account: "An account name is 1 to 64 letters, digits or _ . : @ -",
      bad_display_name: "A display name is at most 32 characters, without control characters",
      bad_identity: "An identity is scheme:id (such as phone:13800138000) or a phone number",
      duplicate_identity: "This identity is already linked to another account",
      network: "The network failed: check the connection and try again",
      error: "That did not work",
    },
  };
  // The words for a code; a code the table lacks gets the general words, never the raw code.
  const message = (lang, code) => MESSAGES[lang][code] || MESSAGES[lang].error;
  // A server error for people: the code's words, with the server's detail where it helps:
  // in English its own (English) text, in Chinese the Chinese part of a text that has one.
  function explain(lang, code, detail) {
    const words = message(lang, code);
    if (!detail || detail === words) return words;
    if (lang === "en") return `${words} (${detail})`;
    if (!/[\u4e00-\u9fff]/.test(detail)) return words;
    const open = detail.indexOf("（");
    return `${words}：${open >= 0 ? detail.slice(open + 1).replace(/）\s*$/, "") : detail}`;
  }
  // What went wrong, for a page in `lang`: a server code's words (with its detail, see
  // explain), a failed network, or the words a page's own error already carries.
  function errorText(lang, e) {
    if (e && e.code) return explain(lang, e.code, e.message);
    return e instanceof TypeError ? message(lang, "network") : (e && e.message) || message(lang, "error");
  }
  const group = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  // Yuan from fen (an integer or a decimal string): 2 decimals and thousands separators.
  function yuan(fen) {
    if (fen == null || fen === "") return "—";
    const n = BigInt(fen), a = n < 0n ? -n : n;
    return (n < 0n ? "-" : "") + group((a / 100n).toString()) + "." + (a % 100n).toString().padStart(2, "0");
  }
  // Atoms from a points string such as "21.5" or "21.00000000" (up to 8 decimals).
  function atomsOf(text) {
    const m = /^(-?)(\d+)(?:\.(\d{1,8}))?$/.exec(String(text).trim());
    if (!m) return null;
    const v = BigInt(m[2]) * 100000000n + BigInt((m[3] || "").padEnd(8, "0"));
    return m[1] ? -v : v;
  }
  // Points from atoms: to 2 decimals (cut, never rounded up), and in full.
  function points(atoms) {
    if (atoms == null || atoms === "") return { short: "—", full: "" };
    const n = BigInt(atoms), a = n < 0n ? -n : n, sign = n < 0n ? "-" : "";
    const whole = group((a / 100000000n).toString()), frac = (a % 100000000n).toString().padStart(8, "0");
    return { short: sign + whole + "." + frac.slice(0, 2), full: sign + whole + "." + frac };
  }
  // Writes points into an element: short, with the full figure on hover and for readers.
  function showPoints(el, atoms) {
    const p = points(atoms);
    el.textContent = p.short;
    el.title = p.full;
    return el;
  }
  // A time in the economy's time zone, in the page's language, to the minute (or second).
  function time(iso, lang, zone, seconds) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (seconds) opts.second = "2-digit";
    try { if (zone) opts.timeZone = zone; return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", opts); }
    catch (_) { delete opts.timeZone; return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", opts); }
  }

  // One journal entry in plain words ("购买 299.00 元…"), from its command's own fields; {R}
  // stands for the economy's word for the daily reward. A refused entry says why.
  const LINES = {
    zh: {
      register_consumer: (c) => "注册会员" + (c.referrer ? `（推荐人 ${c.referrer}）` : ""),
      register_merchant: () => "注册商户",
      pay_order: (c) => `支付订单 ${c.order}：${money(c, "zh")}`,
      confirm_order: (c) => `订单 ${c.order} 确认收货，按当时价格发放积分`,
      refund_order: (c) => `订单 ${c.order} 已退款`,
      sell: (c) => `卖出 ${points(c.atoms).short} 积分`,
      convert_to_stable: (c) => `${points(c.atoms).short} 积分转为稳定积分`,
      redeem_stable: (c) => `稳定积分 ${yuan(c.fen)} 元兑换为积分`,
      settle_dividends: (c) => `${c.day} {R}结算`,
      set_rules: () => "规则更改", advance_clock: () => "时钟前进",
      set_collectible_policy: () => "藏品设置更改",
      mint_collectible: (c) => `用 ${points(c.atoms).short} 积分铸造藏品 ${c.collectible}`,
      issue_certificate: (c) => `为订单 ${c.order} 签发证书 ${c.collectible}`,
      gift_collectible: (c) => `藏品 ${c.collectible} 转赠给 ${c.to}`,
      dissolve_collectible: (c) => `藏品 ${c.collectible} 拆分，积分退回`,
      export_collectible: (c) => `藏品 ${c.collectible} 转至交易场所 ${c.venue}`,
      return_collectible: (c) => `藏品 ${c.collectible} 从交易场所转回给 ${c.to}`,
      record_payout: (c) => `已付款 ${yuan(c.amount_fen)} 元（转账单号 ${c.reference}）`,
      set_tiers: () => "等级表更改",
      freeze_account: (c) => `账户冻结：${c.reason}`, unfreeze_account: () => "账户解冻",
      record_award: (c) => `记录排名奖励 ${c.award}（前 ${c.top} 名）`,
      review_order: (c) => `订单 ${c.order} 风控审核：${{ approve: "通过，已确认", reject: "拒绝，已退款", extend: "继续扣留" }[c.decision] || c.decision}` + (c.note ? `（${c.note}）` : ""),
      set_risk_rules: () => "风控规则更改", set_trust: (c) => `${c.account} ${{ allow: "加入信任名单", deny: "加入拒绝名单", none: "移出名单" }[c.list] || c.list}`,
      record_signals: (c) => `登记 ${c.account} 的身份信息（已加密）`,
      held: () => "（风控扣留，待审核）",
      other: (c) => `操作 ${c.type || ""}`, refused: (w) => `（未执行：${w}）`,
    },
    en: {
      register_consumer: (c) => "Joined" + (c.referrer ? ` (referred by ${c.referrer})` : ""),
      register_merchant: () => "Merchant registered",
      pay_order: (c) => `Paid order ${c.order}: ${money(c, "en")}`,
      confirm_order: (c) => `Order ${c.order} received; points granted at that day's price`,
      refund_order: (c) => `Order ${c.order} refunded`,
      sell: (c) => `Sold ${points(c.atoms).short} points`,
      convert_to_stable: (c) => `Converted ${points(c.atoms).short} points to stable points`,
      redeem_stable: (c) => `Redeemed ${yuan(c.fen)} yuan of stable points for points`,
      settle_dividends: (c) => `{R^} settled for ${c.day}`,
      set_rules: () => "Rules changed", advance_clock: () => "Clock moved on",
      set_collectible_policy: () => "Collectibles policy changed",
      mint_collectible: (c) => `Collectible ${c.collectible} made from ${points(c.atoms).short} points`,
      issue_certificate: (c) => `Certificate ${c.collectible} issued for order ${c.order}`,
      gift_collectible: (c) => `Collectible ${c.collectible} given to ${c.to}`,
      dissolve_collectible: (c) => `Collectible ${c.collectible} dissolved; its points returned`,
      export_collectible: (c) => `Collectible ${c.collectible} moved to venue ${c.venue}`,
      return_collectible: (c) => `Collectible ${c.collectible} back from its venue, to ${c.to}`,
      record_payout: (c) => `Paid ${yuan(c.amount_fen)} yuan (transfer ${c.reference})`,
      set_tiers: () => "Tier table changed",
      freeze_account: (c) => `Account frozen: ${c.reason}`, unfreeze_account: () => "Account unfrozen",
      record_award: (c) => `Award ${c.award} recorded (top ${c.top})`,
      review_order: (c) => `Order ${c.order} reviewed: ${{ approve: "approved and confirmed", reject: "rejected and refunded", extend: "held longer" }[c.decision] || c.decision}` + (c.note ? ` (${c.note})` : ""),
      set_risk_rules: () => "Risk rules changed", set_trust: (c) => `${c.account} ${{ allow: "put on the allow list", deny: "put on the deny list", none: "taken off the lists" }[c.list] || c.list}`,
      record_signals: (c) => `${c.account}'s identity details recorded (hashed)`,
      held: () => " (held for review)",
      other: (c) => `Operation ${c.type || ""}`, refused: (w) => ` (not done: ${w})`,
    },
  };
  function money(c, lang) {
    const cash = BigInt(c.cash_fen || 0), stable = BigInt(c.stable_fen || 0);
    const parts = [];
    if (cash > 0n || stable === 0n) parts.push(lang === "zh" ? `现金 ${yuan(cash)} 元` : `${yuan(cash)} yuan in cash`);
    if (stable > 0n) parts.push(lang === "zh" ? `稳定积分 ${yuan(stable)} 元` : `${yuan(stable)} yuan in stable points`);
    return parts.join(lang === "zh" ? "，" : ", ");
  }
  // `entry`: {type, command, ok, outcome}.
  function describe(entry, lang) {
    const c = entry.command || { type: entry.type }, words = LINES[lang];
    let text;
    try { text = (words[c.type] || words.other)(c); } catch (_) { text = words.other(c); }
    if (entry.held) text += words.held();
    return entry.ok === false ? text + words.refused(message(lang, entry.outcome)) : text;
  }
  // Why the risk rules held an order (SPEC §17), from a reason's rule, figure and threshold.
  const SIGNALS = { zh: { phone: "手机号", address: "收货地址", device: "设备", network: "网络地址" },
                    en: { phone: "phone", address: "delivery address", device: "device", network: "network address" } };
  const REASONS = {
    zh: {
      velocity_orders: (r) => `24 小时内第 ${r.figure} 笔订单，上限 ${r.threshold} 笔`,
      velocity_fen: (r) => `24 小时内共 ${yuan(r.figure)} 元，上限 ${yuan(r.threshold)} 元`,
      large_order: (r) => `大额订单 ${yuan(r.figure)} 元，超过 ${yuan(r.threshold)} 元`,
      large_order_median: (r) => `${yuan(r.figure)} 元，远高于该消费者平时的金额（上限 ${yuan(r.threshold)} 元）`,
      self_dealing: (r) => `买家与商家使用同一${SIGNALS.zh[r.signal] || ""}（疑似自买自卖）`,
      ring_referees: (r) => `推荐人短时间内新增 ${r.figure} 位被推荐人，上限 ${r.threshold} 位`,
      ring_shared_signal: (r) => `与同一推荐人下的 ${r.figure} 个账户使用同一${SIGNALS.zh[r.signal] || ""}`,
      refund_rate: (r) => `最近订单退款率 ${r.figure}%，上限 ${r.threshold}%`,
      new_account: (r) => `新注册账户下单 ${yuan(r.figure)} 元，上限 ${yuan(r.threshold)} 元`,
      deny_list: () => "买家或商家在拒绝名单上",
    },
    en: {
      velocity_orders: (r) => `Order ${r.figure} within 24 hours; the limit is ${r.threshold}`,
      velocity_fen: (r) => `${yuan(r.figure)} yuan within 24 hours; the limit is ${yuan(r.threshold)} yuan`,
      large_order: (r) => `A large order: ${yuan(r.figure)} yuan, above ${yuan(r.threshold)} yuan`,
      large_order_median: (r) => `${yuan(r.figure)} yuan, far above this consumer's usual amount (limit ${yuan(r.threshold)} yuan)`,
      self_dealing: (r) => `The buyer and the merchant share a ${SIGNALS.en[r.signal] || "signal"} (possible self-dealing)`,
      ring_referees: (r) => `The referrer gained ${r.figure} referees in a short time; the limit is ${r.threshold}`,
      ring_shared_signal: (r) => `Shares a ${SIGNALS.en[r.signal] || "signal"} with ${r.figure} other account(s) of the same referrer`,
      refund_rate: (r) => `Refund rate ${r.figure}% over recent orders; the limit is ${r.threshold}%`,
      new_account: (r) => `A new account ordering ${yuan(r.figure)} yuan; the limit is ${yuan(r.threshold)} yuan`,
      deny_list: () => "The buyer or the merchant is on the deny list",
    },
  };
  function riskReason(r, lang) { const f = REASONS[lang][r.rule]; return f ? f(r) : r.rule; }
  return { MESSAGES, message, explain, errorText, group, yuan, atomsOf, points, showPoints, time, describe, riskReason };
})();
