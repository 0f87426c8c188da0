// Draws the report's charts with uPlot from DATA (inlined by jifen simulate). When every chart
// is drawn, <body data-status="rendered" data-charts="N">; on any error, data-status="error: …".
(function () {
  "use strict";
  window.addEventListener("error", function (e) {
    document.body.dataset.status = "error: " + e.message;
  });
  var drawn = 0;
  // Axis labels: 1 234 567 as 1.23M, so they fit beside the chart.
  function compact(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(a >= 1e10 ? 0 : 2) + "B";
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 2) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    return String(Math.round(v * 100) / 100);
  }
  function axis(extra) {
    var a = { size: 64, values: function (u, vals) { return vals.map(compact); } };
    for (var k in extra || {}) a[k] = extra[k];
    return a;
  }
  function width(el) {
    return Math.max(320, Math.min(1100, el.clientWidth || 900));
  }
  function chart(id, series, data, opts) {
    var el = document.getElementById(id);
    opts = opts || {};
    var config = {
      width: width(el),
      height: 260,
      series: [{ label: opts.xLabel || "day" }].concat(series),
      axes: [{ label: opts.xLabel || "day" }].concat((opts.axes || [{}]).map(axis)),
      scales: opts.scales || { x: { time: false } },
      legend: { live: true },
    };
    if (!config.scales.x) config.scales.x = { time: false };
    new uPlot(config, data, el);
    drawn += 1;
  }
  var d = DATA;
  var colours = ["#c0392b", "#2471a3", "#1e8449", "#b9770e", "#7d3c98"];
  var fmt4 = function (u, v) { return v == null ? "-" : v.toFixed(4); };
  chart("chart-price", [
    { label: "price after the day's orders", stroke: colours[3], scale: "price", value: fmt4, points: { show: true } },
    { label: "price at the end of the day", stroke: colours[0], scale: "price", value: fmt4, points: { show: true } },
    { label: "reserve (yuan)", stroke: colours[1], scale: "yuan" },
  ], [d.days, d.price_before_settlement, d.price, d.reserve], {
    scales: { x: { time: false }, price: {}, yuan: {} },
    axes: [{ scale: "price", label: "yuan per point" }, { scale: "yuan", side: 1, label: "yuan", grid: { show: false } }],
  });
  chart("chart-money", [
    { label: "set aside (yuan)", stroke: colours[2] },
    { label: "paid to sellers (yuan)", stroke: colours[0] },
    { label: "dividends paid (yuan)", stroke: colours[1] },
  ], [d.days, d.money_in, d.paid_out, d.dividends]);
  chart("chart-quota", [
    { label: "dividends paid (yuan)", stroke: colours[1] },
    { label: "outstanding quota (yuan)", stroke: colours[3] },
  ], [d.days, d.dividends, d.quota]);
  chart("chart-exits", [
    { label: "exits", stroke: colours[4], fill: "rgba(125,60,152,0.2)", paths: uPlot.paths.bars({ size: [0.8, 20] }) },
  ], [d.days, d.exits]);
  chart("chart-cost", [
    { label: "cost (% of sales)", stroke: colours[0], value: function (u, v) { return v == null ? "-" : v.toFixed(2) + "%"; } },
  ], [d.days, d.cost_pct]);
  chart("chart-cohorts", [
    { label: "spent (yuan)", stroke: colours[0], fill: "rgba(192,57,43,0.25)", paths: uPlot.paths.bars({ size: [0.4, 40], align: -1 }) },
    { label: "received (yuan)", stroke: colours[2], fill: "rgba(30,132,73,0.25)", paths: uPlot.paths.bars({ size: [0.4, 40], align: 1 }) },
  ], [d.cohort_week, d.cohort_spent, d.cohort_received], { xLabel: "week of first purchase" });
  document.body.dataset.charts = String(drawn);
  if (!document.body.dataset.status) document.body.dataset.status = "rendered";
})();
