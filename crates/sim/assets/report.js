// Draws the report's charts with uPlot from DATA (inlined by jifen simulate), in the page's
// language (Chinese first; the button switches), to the width of the screen. When every chart
// is drawn, <body data-status="rendered" data-charts="N">; on any error, data-status="error: …".
(function () {
  "use strict";
  window.addEventListener("error", function (e) {
    document.body.dataset.status = "error: " + e.message;
  });
  var WORDS = {
    zh: {
      day: "天", week: "首次购买周", perPoint: "元/积分", yuan: "元",
      priceBefore: "当天订单后的价格", priceAfter: "当天结束时的价格", reserve: "储备金（元）",
      setAside: "存入（元）", paidSellers: "付给卖出者（元）", rewards: "已发每日回馈（元）",
      caps: "未付额度（元）", exits: "出局次数", cost: "成本（占销售额 %）", spent: "消费（元）", received: "所得（元）",
    },
    en: {
      day: "day", week: "week of first purchase", perPoint: "yuan per point", yuan: "yuan",
      priceBefore: "price after the day's orders", priceAfter: "price at the end of the day", reserve: "reserve (yuan)",
      setAside: "set aside (yuan)", paidSellers: "paid to sellers (yuan)", rewards: "daily rewards paid (yuan)",
      caps: "outstanding caps (yuan)", exits: "exits", cost: "cost (% of sales)", spent: "spent (yuan)", received: "received (yuan)",
    },
  };
  var lang = "zh", charts = [];
  // Axis labels: 1 234 567 as 1.23M, so they fit beside the chart.
  function compact(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(a >= 1e10 ? 0 : 2) + "B";
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 2) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    return String(Math.round(v * 100) / 100);
  }
  function axis(extra) {
    var a = { size: 56, values: function (u, vals) { return vals.map(compact); } };
    for (var k in extra || {}) a[k] = extra[k];
    return a;
  }
  function width(el) {
    return Math.max(260, Math.min(1100, el.clientWidth || 900));
  }
  function chart(id, series, data, opts) {
    var el = document.getElementById(id), w = WORDS[lang];
    opts = opts || {};
    var x = opts.xLabel || w.day;
    var config = {
      width: width(el),
      height: 240,
      series: [{ label: x }].concat(series),
      axes: [{ label: x }].concat((opts.axes || [{}]).map(axis)),
      scales: opts.scales || { x: { time: false } },
      legend: { live: true },
    };
    if (!config.scales.x) config.scales.x = { time: false };
    charts.push(new uPlot(config, data, el));
  }
  var d = DATA;
  var colours = ["#c0392b", "#2471a3", "#1e8449", "#b9770e", "#7d3c98"];
  var fmt4 = function (u, v) { return v == null ? "-" : v.toFixed(4); };
  function draw() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var w = WORDS[lang];
    chart("chart-price", [
      { label: w.priceBefore, stroke: colours[3], scale: "price", value: fmt4, points: { show: true } },
      { label: w.priceAfter, stroke: colours[0], scale: "price", value: fmt4, points: { show: true } },
      { label: w.reserve, stroke: colours[1], scale: "yuan" },
    ], [d.days, d.price_before_settlement, d.price, d.reserve], {
      scales: { x: { time: false }, price: {}, yuan: {} },
      axes: [{ scale: "price", label: w.perPoint }, { scale: "yuan", side: 1, label: w.yuan, grid: { show: false } }],
    });
    chart("chart-money", [
      { label: w.setAside, stroke: colours[2] },
      { label: w.paidSellers, stroke: colours[0] },
      { label: w.rewards, stroke: colours[1] },
    ], [d.days, d.money_in, d.paid_out, d.dividends]);
    chart("chart-quota", [
      { label: w.rewards, stroke: colours[1] },
      { label: w.caps, stroke: colours[3] },
    ], [d.days, d.dividends, d.quota]);
    chart("chart-exits", [
      { label: w.exits, stroke: colours[4], fill: "rgba(125,60,152,0.2)", paths: uPlot.paths.bars({ size: [0.8, 20] }) },
    ], [d.days, d.exits]);
    chart("chart-cost", [
      { label: w.cost, stroke: colours[0], value: function (u, v) { return v == null ? "-" : v.toFixed(2) + "%"; } },
    ], [d.days, d.cost_pct]);
    chart("chart-cohorts", [
      { label: w.spent, stroke: colours[0], fill: "rgba(192,57,43,0.25)", paths: uPlot.paths.bars({ size: [0.4, 40], align: -1 }) },
      { label: w.received, stroke: colours[2], fill: "rgba(30,132,73,0.25)", paths: uPlot.paths.bars({ size: [0.4, 40], align: 1 }) },
    ], [d.cohort_week, d.cohort_spent, d.cohort_received], { xLabel: w.week });
    document.body.dataset.charts = String(charts.length);
  }
  function setLang(l) {
    lang = l;
    document.documentElement.dataset.lang = l;
    document.documentElement.lang = l === "zh" ? "zh-CN" : "en";
    draw();
  }
  document.getElementById("lang").addEventListener("click", function () { setLang(lang === "zh" ? "en" : "zh"); });
  var drawnWidth = window.innerWidth, timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { if (window.innerWidth !== drawnWidth) { drawnWidth = window.innerWidth; draw(); } }, 200);
  });
  if (/^en/.test(new URLSearchParams(location.search).get("lang") || "")) setLang("en"); else draw();
  if (!document.body.dataset.status) document.body.dataset.status = "rendered";
})();
