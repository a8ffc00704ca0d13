/**
 * The dashboard's script (plain ES2017, no dependency). It keeps the token in session storage (taken once from
 * the URL fragment `#token=...`, which browsers never send to the server, then removed from the address bar),
 * asks `/dashboard/data` with it every 30 seconds, and draws with DOM and SVG nodes only: every value from the
 * server is set as text, never parsed as HTML.
 *
 * @packageDocumentation
 */

/** `/dashboard/app.js`. */
export const DASHBOARD_JS = String.raw`(function () {
  'use strict'
  var KEY = 'llm-budget-token'
  var REFRESH_MS = 30000
  var timer = null
  var SVG = 'http://www.w3.org/2000/svg'

  function $(id) { return document.getElementById(id) }
  function el(tag, attrs, text) {
    var node = document.createElement(tag)
    if (attrs) for (var name in attrs) node.setAttribute(name, attrs[name])
    if (text !== undefined && text !== null) node.textContent = String(text)
    return node
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag)
    for (var name in attrs) node.setAttribute(name, String(attrs[name]))
    if (text !== undefined) node.textContent = String(text)
    return node
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild) }

  // Exact decimal USD strings from the server, rounded half up for reading with decimal string arithmetic (no
  // floats): cents from $1 up, four places below, trailing zeros dropped down to cents: '29.287999999' -> '$29.29',
  // '0.038000000' -> '$0.038', '0.999999999' -> '$1.00'. A non-zero amount that rounds to nothing shows '<$0.0001'.
  // The exact value stays in the cell's title.
  function usd(exact) {
    if (exact === null || exact === undefined) return '\u2014'
    var s = String(exact)
    var negative = s.charAt(0) === '-'
    if (negative) s = s.slice(1)
    var parts = s.split('.')
    var whole = parts[0] || '0'
    var fraction = ((parts[1] || '') + '000000000').slice(0, 9)
    var places = /^0*$/.test(whole) ? 4 : 2
    var digits = (whole + fraction.slice(0, places)).split('').map(Number)
    if (Number(fraction.charAt(places)) >= 5) {
      var i = digits.length - 1
      while (i >= 0 && digits[i] === 9) digits[i--] = 0
      if (i < 0) digits.unshift(1)
      else digits[i]++
    }
    var all = digits.join('')
    var shownWhole = all.slice(0, all.length - places).replace(/^0+(?=\d)/, '')
    var shownFraction = all.slice(all.length - places).replace(/0+$/, '')
    while (shownFraction.length < 2) shownFraction += '0'
    if (/^0*$/.test(all) && !/^0*$/.test(whole + fraction)) return (negative ? '-' : '') + '<$0.0001'
    return (negative && !/^0*$/.test(all) ? '-' : '') + '$' + shownWhole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + shownFraction
  }
  function exactTitle(exact) { return exact === null || exact === undefined ? '' : '$' + exact }
  function int(n) { return n === null || n === undefined ? '\u2014' : Number(n).toLocaleString('en-US') }
  function when(iso) { return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC') : '\u2014' }

  function token() { return sessionStorage.getItem(KEY) }
  function takeTokenFromFragment() {
    var match = /(?:^#|&)token=([^&]+)/.exec(location.hash)
    if (match) {
      sessionStorage.setItem(KEY, decodeURIComponent(match[1]))
      history.replaceState(null, '', location.pathname + location.search)
    }
  }

  function showSignin(message) {
    if (timer !== null) { clearInterval(timer); timer = null }
    $('content').hidden = true
    $('signout').hidden = true
    $('signin').hidden = false
    $('signin-error').textContent = message || ''
    $('status').textContent = ''
  }

  function load() {
    var t = token()
    if (!t) { showSignin(''); return }
    $('status').textContent = 'Loading\u2026'
    fetch('/dashboard/data', { headers: { authorization: 'Bearer ' + t }, cache: 'no-store', credentials: 'omit' })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          sessionStorage.removeItem(KEY)
          showSignin('That token was refused.')
          return null
        }
        if (!response.ok) throw new Error('HTTP ' + response.status)
        return response.json()
      })
      .then(function (data) {
        if (data === null) return
        render(data)
        $('signin').hidden = true
        $('content').hidden = false
        $('signout').hidden = false
        $('status').textContent = 'Updated ' + when(data.generatedAt) + ' \u00b7 refreshes every 30 s'
        if (timer === null) timer = setInterval(load, REFRESH_MS)
      })
      .catch(function (error) { $('status').textContent = 'Could not load: ' + error.message })
  }

  function render(data) {
    $('days').textContent = data.days
    $('total-cost').textContent = usd(data.total.cost)
    $('total-cost').title = exactTitle(data.total.cost)
    $('total-calls').textContent = int(data.total.calls)
    $('total-tokens').textContent = int(data.total.inputTokens) + ' / ' + int(data.total.outputTokens)
    renderBudgets(data.budgets)
    renderDays(data.byDay)
    renderBars($('chart-model'), data.byModel)
    renderBars($('chart-user'), data.byUser)
    renderBars($('chart-team'), data.byTeam)
    renderRecent(data.recent)
  }

  function renderBudgets(budgets) {
    var body = $('budgets').tBodies[0]
    clear(body)
    $('budgets-empty').hidden = budgets.length > 0
    budgets.forEach(function (b) {
      var row = el('tr', { 'data-scope': b.scope })
      row.appendChild(el('td', { 'class': 'scope' }, b.scope))
      row.appendChild(el('td', { 'class': 'num spend', title: exactTitle(b.spend) }, usd(b.spend)))
      row.appendChild(el('td', { 'class': 'num limit', title: exactTitle(b.limit) }, usd(b.limit)))
      var cell = el('td')
      if (b.percentUsed !== null) {
        var pct = Math.max(0, b.percentUsed)
        var bar = el('div', { 'class': 'bar' + (pct >= 100 ? ' over' : pct >= 80 ? ' warn' : ''), role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.min(100, pct)) })
        var fill = el('span')
        fill.style.width = Math.min(100, pct) + '%'
        bar.appendChild(fill)
        var wrap = el('div', { 'class': 'bar-wrap' })
        wrap.appendChild(bar)
        cell.appendChild(wrap)
        cell.appendChild(el('span', { 'class': 'pct' }, pct.toFixed(1) + '%'))
      } else {
        cell.appendChild(el('span', { 'class': 'muted' }, 'no limit'))
      }
      row.appendChild(cell)
      row.appendChild(el('td', { 'class': 'num forecast', title: exactTitle(b.projectedSpend) }, usd(b.projectedSpend)))
      row.appendChild(el('td', { 'class': 'exhausts' }, b.exhaustsAt ? when(b.exhaustsAt) : '\u2014'))
      row.appendChild(el('td', {}, b.resetsAt ? when(b.resetsAt) : 'never'))
      body.appendChild(row)
    })
  }

  function renderDays(days) {
    var box = $('chart-day')
    clear(box)
    var width = 900, height = 220, left = 56, bottom = 24, top = 8
    var max = 0
    days.forEach(function (d) { max = Math.max(max, Number(d.cost)) })
    var chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'Spend by day' })
    var plotH = height - bottom - top
    for (var i = 0; i <= 4; i++) {
      var y = top + plotH - (plotH * i) / 4
      chart.appendChild(svg('line', { x1: left, x2: width, y1: y, y2: y }))
      chart.appendChild(svg('text', { x: left - 6, y: y + 3, 'text-anchor': 'end' }, max === 0 ? (i === 0 ? '$0' : '') : usd((max * i / 4).toFixed(2))))
    }
    var step = (width - left) / Math.max(1, days.length)
    days.forEach(function (d, index) {
      var h = max === 0 ? 0 : (Number(d.cost) / max) * plotH
      var x = left + index * step + step * 0.15
      var rect = svg('rect', { x: x, y: top + plotH - h, width: step * 0.7, height: Math.max(0, h), 'data-day': d.key, 'data-cost': d.cost })
      rect.appendChild(svg('title', {}, d.key + ': ' + usd(d.cost) + ' (' + d.calls + ' calls)'))
      chart.appendChild(rect)
      if (index % Math.ceil(days.length / 10) === 0 || index === days.length - 1) {
        chart.appendChild(svg('text', { x: x + step * 0.35, y: height - 8, 'text-anchor': 'middle' }, d.key.slice(5)))
      }
    })
    box.appendChild(chart)
  }

  function renderBars(box, groups) {
    clear(box)
    if (groups.length === 0) { box.appendChild(el('p', { 'class': 'muted' }, 'No spend in this period.')); return }
    var max = 0
    groups.forEach(function (g) { max = Math.max(max, Number(g.cost)) })
    groups.forEach(function (g) {
      var row = el('div', { 'class': 'row', 'data-key': g.key })
      row.appendChild(el('span', { 'class': 'label', title: g.key }, g.key))
      var bar = el('div', { 'class': 'bar' })
      var fill = el('span')
      fill.style.width = (max === 0 ? 0 : (Number(g.cost) / max) * 100) + '%'
      bar.appendChild(fill)
      row.appendChild(bar)
      row.appendChild(el('span', { 'class': 'value', title: exactTitle(g.cost) }, usd(g.cost)))
      box.appendChild(row)
    })
  }

  function renderRecent(calls) {
    var body = $('recent').tBodies[0]
    clear(body)
    calls.forEach(function (c) {
      var row = el('tr', { 'data-call': c.callId })
      row.appendChild(el('td', {}, when(c.endedAt)))
      row.appendChild(el('td', {}, c.model || '\u2014'))
      row.appendChild(el('td', {}, c.provider || '\u2014'))
      row.appendChild(el('td', {}, c.user || '\u2014'))
      row.appendChild(el('td', {}, c.team || '\u2014'))
      row.appendChild(el('td', {}, c.status || '\u2014'))
      row.appendChild(el('td', { 'class': 'num' }, int(c.inputTokens) + ' / ' + int(c.outputTokens)))
      row.appendChild(el('td', { 'class': 'num cost', title: exactTitle(c.cost) }, usd(c.cost)))
      body.appendChild(row)
    })
  }

  document.addEventListener('DOMContentLoaded', function () {
    takeTokenFromFragment()
    $('signin-form').addEventListener('submit', function (event) {
      event.preventDefault()
      var value = $('token').value.trim()
      if (value) sessionStorage.setItem(KEY, value)
      $('token').value = ''
      load()
    })
    $('signout').addEventListener('click', function () {
      sessionStorage.removeItem(KEY)
      showSignin('')
    })
    load()
  })
})()
`
