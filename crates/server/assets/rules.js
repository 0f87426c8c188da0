// The rules of SPEC §3 for people (inlined into the console where it says RULES_JS): each with
// a label in both languages, its value in the unit people think in, one sentence on its effect
// with an example on a 100-yuan order, and the guard rails that bound it (SPEC §3 and §12).
// Values convert both ways exactly, in integers: a rule is never sent rounded.
const RULES = (() => {
  const strip = (s) => s.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  // An integer in units of 1/10^places, as decimal text, and back (null if not such a number).
  const decimal = (n, places) => {
    const d = 10n ** BigInt(places), v = BigInt(n);
    return strip(JF.group((v / d).toString()) + "." + (v % d).toString().padStart(places, "0"));
  };
  const parse = (text, places) => {
    const m = /^(\d{1,15})(?:\.(\d+))?$/.exec(String(text).trim().replace(/[,，\s]/g, ""));
    if (!m || (m[2] || "").length > places) return null;
    return (BigInt(m[1]) * 10n ** BigInt(places) + BigInt((m[2] || "").padEnd(places, "0"))).toString();
  };
  const UNITS = {
    pct: { show: (v) => decimal(v, 2), read: (t) => parse(t, 2), zh: "%", en: "%" },
    times: { show: (v) => decimal(v, 4), read: (t) => parse(t, 4), zh: "倍", en: "×" },
    yuan: { show: (v) => decimal(v, 2), read: (t) => parse(t, 2), zh: "元", en: "yuan" },
    count: { show: (v) => JF.group(String(v)), read: (t) => parse(t, 0), zh: "个", en: "points" },
    bool: { show: (v) => String(v), read: (t) => (t === "true" || t === "false" ? t : null), zh: "", en: "" },
  };
  // Fen of a 100-yuan order times bps, as yuan text (a 100-yuan order is 10,000 fen).
  const of100 = (...bps) => JF.yuan(bps.reduce((fen, b) => fen * BigInt(b) / 10000n, 10000n).toString());
  const yes = (v, lang) => (v ? (lang === "zh" ? "开启" : "on") : (lang === "zh" ? "关闭" : "off"));
  const LIST = [
    { key: "reserve_bps", unit: "pct",
      zh: ["储备金比例", (r) => `每笔订单按比例存入储备金，储备金支撑积分价格。100 元订单：${of100(r.reserve_bps)} 元进入储备金。`, "储备金 + {P}合计不超过 100 %。储备金按公布价格支撑每一笔回购。"],
      en: ["Reserve share", (r) => `The share of each order paid into the reserve, which backs the points' price. A 100-yuan order puts ${of100(r.reserve_bps)} yuan into the reserve.`, "Reserve plus {P} at most 100 %. The reserve backs every buyback at the published price."] },
    { key: "reward_bps", unit: "pct",
      zh: ["买家积分比例", (r) => `储备金份额中按此比例以当日价格折成积分发给买家。100 元订单：买家获得价值 ${of100(r.reserve_bps, r.reward_bps)} 元的积分。`, "买家 + 推荐人合计不超过 100 %。积分只来自已确认的消费，不能用钱购买。"],
      en: ["Buyer's points share", (r) => `The share of the reserve contribution granted to the buyer as points at today's price. A 100-yuan order earns points worth ${of100(r.reserve_bps, r.reward_bps)} yuan.`, "Buyer plus referrer at most 100 %. Points come only from confirmed purchases; they cannot be bought."] },
    { key: "referral_bps", unit: "pct",
      zh: ["推荐人积分比例", (r) => `储备金份额中按此比例以积分发给买家的推荐人。100 元订单：推荐人获得价值 ${of100(r.reserve_bps, r.referral_bps)} 元的积分。`, "只有一级推荐，且只来自被推荐人自己已确认的消费。"],
      en: ["Referrer's points share", (r) => `The share of the reserve contribution granted to the buyer's referrer as points. A 100-yuan order earns the referrer points worth ${of100(r.reserve_bps, r.referral_bps)} yuan.`, "One level only, and only from the referee's own confirmed purchases."] },
    { key: "dividend_bps", unit: "pct",
      zh: ["{P}比例", (r) => `每笔订单按比例存入{P}，每天按持有积分的比例发放，以各人额度为上限。100 元订单：${of100(r.dividend_bps)} 元进入{P}。`, "储备金 + {P}合计不超过 100 %。"],
      en: ["{P^} share", (r) => `The share of each order paid into the {P}, paid out daily in proportion to points held, up to each person's cap. A 100-yuan order puts ${of100(r.dividend_bps)} yuan into the {P}.`, "Reserve plus {P} at most 100 %."] },
    { key: "quota_multiplier_bps", unit: "times",
      zh: ["额度倍数", (r) => `每消费 1 元，{R}额度增加的金额。100 元订单：额度增加 ${of100(r.quota_multiplier_bps, 10000n)} 元。`, "不超过 10 倍。额度是上限，只从{P}支付，不是承诺。"],
      en: ["Cap multiple", (r) => `How much each yuan spent adds to the consumer's {R} cap. A 100-yuan order adds ${of100(r.quota_multiplier_bps, 10000n)} yuan to the cap.`, "At most 10 ×. The cap is a limit, paid only from the {P}; it is not a promise."] },
    { key: "sell_fee_bps", unit: "pct",
      zh: ["卖出手续费", (r) => `卖出积分时收取的手续费，留在储备金中。卖出价值 100 元的积分：手续费 ${of100(r.sell_fee_bps)} 元。`, "不超过 100 %。"],
      en: ["Sale fee", (r) => `The fee on selling points back; it stays in the reserve. Selling points worth 100 yuan costs ${of100(r.sell_fee_bps)} yuan.`, "At most 100 %."] },
    { key: "convert_fee_bps", unit: "pct",
      zh: ["转稳定积分手续费", (r) => `积分转为稳定积分时收取的手续费，留在储备金中。转换价值 100 元的积分：手续费 ${of100(r.convert_fee_bps)} 元。`, "不超过 100 %。"],
      en: ["Conversion fee", (r) => `The fee on converting points to stable points; it stays in the reserve. Converting points worth 100 yuan costs ${of100(r.convert_fee_bps)} yuan.`, "At most 100 %."] },
    { key: "initial_price_fen", unit: "yuan",
      zh: ["初始价格（元/积分）", (r) => `积分开始流通前每个积分的价格。`, "0.01 至 1,000,000 元。"],
      en: ["Starting price (yuan per point)", () => "The price of one point before any point circulates.", "0.01 to 1,000,000 yuan."] },
    { key: "issuance_cap_points", unit: "count",
      zh: ["积分发行上限", (r) => `累计发行的积分不超过 ${JF.group(String(r.issuance_cap_points))} 个（销毁的积分不再发行）。`, "1 至 100,000,000,000 个，且不低于已发行的数量。"],
      en: ["Points issuance cap", (r) => `At most ${JF.group(String(r.issuance_cap_points))} points are ever issued (burned points are not issued again).`, "1 to 100,000,000,000, and not below what has been issued."] },
    { key: "order_max_fen", unit: "yuan",
      zh: ["单笔订单上限", (r) => `单笔订单最多 ${JF.yuan(String(r.order_max_fen))} 元。`, "0.01 至 10,000,000,000 元。"],
      en: ["Largest order", (r) => `No single order may be over ${JF.yuan(String(r.order_max_fen))} yuan.`, "0.01 to 10,000,000,000 yuan."] },
    { key: "exit_enabled", unit: "bool",
      zh: ["达到额度时出局", (r) => `${yes(r.exit_enabled, "zh")}：开启时，积分价值达到额度的消费者按当时价格卖出全部可用积分（扣手续费），额度归零。`, "出局只按公布价格卖出，款项来自储备金。"],
      en: ["Exit at the cap", (r) => `${yes(r.exit_enabled, "en")}: when on, a consumer whose points are worth their cap sells every free point at that day's price (less the fee), and the cap returns to zero.`, "An exit sells only at the published price, paid from the reserve."] },
    { key: "stable_payment_earns", unit: "bool",
      zh: ["稳定积分付款也计入", (r) => `${yes(r.stable_payment_earns, "zh")}：开启时，订单中用稳定积分支付的部分也计入储备金、{P}和额度。`, ""],
      en: ["Stable-point payments count", (r) => `${yes(r.stable_payment_earns, "en")}: when on, the part of an order paid in stable points also counts towards the reserve, the {P} and the cap.`, ""] },
  ];
  const byKey = Object.fromEntries(LIST.map((r) => [r.key, r]));
  // The rule's value as people read it: "30 %", "2 倍", "1.00 元".
  function shown(key, value, lang) {
    const r = byKey[key];
    if (!r) return String(value);
    if (r.unit === "bool") return yes(value, lang);
    const u = UNITS[r.unit], text = r.unit === "yuan" ? JF.yuan(String(value)) : u.show(value);
    return u[lang] ? `${text} ${u[lang]}` : text;
  }
  // "reward 70 % → 60 %" lines between two rule sets.
  function changes(before, after, lang) {
    const out = [];
    for (const r of LIST) {
      if (before && String(before[r.key]) === String(after[r.key])) continue;
      const was = before ? shown(r.key, before[r.key], lang) : null;
      out.push(was == null ? `${r[lang][0]} ${shown(r.key, after[r.key], lang)}` : `${r[lang][0]} ${was} → ${shown(r.key, after[r.key], lang)}`);
    }
    return out;
  }
  return { LIST, UNITS, byKey, shown, changes, parse };
})();
