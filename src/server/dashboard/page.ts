/**
 * The dashboard's HTML and CSS. The page holds no data: its script asks `/dashboard/data` with the tenant's
 * bearer token. Served with a Content-Security-Policy that allows only the page's own script and stylesheet
 * and requests to its own origin (no inline code, no CDN, no framing).
 *
 * @packageDocumentation
 */

/** The Content-Security-Policy of every dashboard answer. */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** `/dashboard`. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>llm-budget</title>
<link rel="icon" href="/dashboard/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/app.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header>
  <h1>llm-budget</h1>
  <span id="status" role="status"></span>
  <button id="signout" type="button" hidden>Sign out</button>
</header>
<main>
  <section id="signin" hidden>
    <h2>Sign in</h2>
    <p>Paste the bearer token of your tenant. It is kept in this tab only (session storage).</p>
    <form id="signin-form">
      <input id="token" type="password" autocomplete="off" placeholder="token" aria-label="token" required>
      <button type="submit">Show spend</button>
    </form>
    <p id="signin-error" class="error"></p>
  </section>
  <div id="content" hidden>
    <section class="cards">
      <div class="card"><h3>Spend, last <span id="days"></span> days</h3><p id="total-cost" class="big"></p></div>
      <div class="card"><h3>Calls</h3><p id="total-calls" class="big"></p></div>
      <div class="card"><h3>Tokens in / out</h3><p id="total-tokens" class="big"></p></div>
    </section>
    <section>
      <h2>Budgets</h2>
      <table id="budgets"><thead><tr><th>Scope</th><th>Spend</th><th>Limit</th><th class="bar-col">Utilisation</th><th>Forecast</th><th>Runs out</th><th>Resets</th></tr></thead><tbody></tbody></table>
      <p id="budgets-empty" class="muted" hidden>No budgets yet.</p>
    </section>
    <section>
      <h2>Spend by day</h2>
      <div id="chart-day" class="chart"></div>
    </section>
    <section class="columns">
      <div><h2>By model</h2><div id="chart-model" class="hbars"></div></div>
      <div><h2>Top users</h2><div id="chart-user" class="hbars"></div></div>
      <div><h2>By team</h2><div id="chart-team" class="hbars"></div></div>
    </section>
    <section>
      <h2>Recent calls</h2>
      <table id="recent"><thead><tr><th>Time</th><th>Model</th><th>Provider</th><th>User</th><th>Team</th><th>Status</th><th>Tokens in / out</th><th>Cost</th></tr></thead><tbody></tbody></table>
    </section>
  </div>
</main>
</body>
</html>
`

/** `/dashboard/app.css`. */
export const DASHBOARD_CSS = `:root { --fg: #1d2430; --muted: #6a7384; --line: #e3e6ec; --bg: #f6f7f9; --card: #fff; --accent: #2f6fdb; --warn: #d98a00; --over: #c93535; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 16px; padding: 12px 24px; background: var(--card); border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; }
#status { color: var(--muted); flex: 1; }
main { padding: 16px 24px 40px; max-width: 1200px; margin: 0 auto; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin-bottom: 16px; }
section.cards, section.columns { background: none; border: 0; padding: 0; display: grid; gap: 16px; }
section.cards { grid-template-columns: repeat(3, 1fr); }
section.columns { grid-template-columns: repeat(3, 1fr); }
section.columns > div, .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
h2 { font-size: 15px; margin: 0 0 8px; }
h3 { font-size: 12px; margin: 0; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.big { font-size: 24px; margin: 4px 0 0; font-variant-numeric: tabular-nums; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num { text-align: right; }
.bar-col { width: 28%; }
.bar { position: relative; height: 14px; background: #edf0f5; border-radius: 7px; overflow: hidden; min-width: 120px; }
.bar > span { position: absolute; left: 0; top: 0; bottom: 0; background: var(--accent); border-radius: 7px; }
.bar.warn > span { background: var(--warn); }
.bar.over > span { background: var(--over); }
.pct { font-size: 12px; color: var(--muted); margin-left: 6px; }
.chart svg { width: 100%; height: 220px; display: block; }
.chart rect { fill: var(--accent); }
.chart text { font-size: 10px; fill: var(--muted); }
.chart line { stroke: var(--line); }
.hbars .row { display: grid; grid-template-columns: minmax(0, 38%) minmax(0, 1fr) auto; gap: 8px; align-items: center; margin: 4px 0; }
.hbars .bar { min-width: 0; }
.hbars .label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.hbars .value { font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.error { color: var(--over); }
form { display: flex; gap: 8px; }
input { flex: 1; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
button { padding: 6px 12px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 6px; font: inherit; cursor: pointer; }
#signout { background: none; color: var(--accent); }
@media (max-width: 800px) { section.cards, section.columns { grid-template-columns: 1fr; } }
`

/** `/dashboard/favicon.svg` (so the browser does not ask for a missing `/favicon.ico`). */
export const DASHBOARD_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2f6fdb"/><rect x="3" y="9" width="2" height="4" fill="#fff"/><rect x="7" y="6" width="2" height="7" fill="#fff"/><rect x="11" y="3" width="2" height="10" fill="#fff"/></svg>\n'
