"""A first, minimal dashboard page: today's gate traffic per community, refreshed live.

The full dashboard (four-colour map, three-colour card, live gate charts) replaces it.
"""

DASHBOARD_HTML = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cordon · 今日出入 Gate traffic today</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; color: #1d2733; }
  h1 { font-size: 1.3rem; }
  table { border-collapse: collapse; width: 100%; max-width: 40rem; }
  th, td { padding: .4rem .6rem; border-bottom: 1px solid #d5dbe3; text-align: left; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  #updated { color: #667; font-size: .85rem; }
</style>
</head>
<body>
<h1>今日出入 · Gate traffic today</h1>
<table>
  <thead><tr><th>社区 Community</th><th>进 Entries</th><th>出 Exits</th></tr></thead>
  <tbody id="rows"><tr><td colspan="3">…</td></tr></tbody>
</table>
<p id="updated"></p>
<script>
async function refresh() {
  const response = await fetch("/v1/gate-traffic");
  const rows = await response.json();
  const body = document.getElementById("rows");
  body.replaceChildren(...rows.map(r => {
    const tr = document.createElement("tr");
    for (const [value, cls] of [[r.community_id, ""], [r.entries, "n"], [r.exits, "n"]]) {
      const td = document.createElement("td");
      td.textContent = value;
      td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  }));
  document.getElementById("updated").textContent = new Date().toLocaleTimeString();
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""
