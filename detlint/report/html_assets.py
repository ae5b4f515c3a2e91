"""The HTML report's fixed parts: its document head, style sheet and filter script (one page,
no external resource)."""

HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>detlint report</title>
<style>%CSS%</style></head><body>"""

CSS = """
:root{--bg:#f8fafc;--fg:#0f172a;--muted:#64748b;--card:#fff;--line:#e2e8f0;
--error:#dc2626;--warning:#d97706;--info:#2563eb}
*{box-sizing:border-box}
body{margin:0;padding:0 24px 48px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;
background:var(--bg);color:var(--fg)}
[hidden]{display:none!important}
header h1{margin:16px 0 0;font-size:22px}
h2{font-size:18px;margin:28px 0 6px}
h2 small{font-weight:normal;color:var(--muted);font-size:13px}
.muted{color:var(--muted)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
table{border-collapse:collapse;margin:8px 0 12px;background:var(--card)}
th,td{border:1px solid var(--line);padding:3px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.split td{color:var(--muted)}
.badge{display:inline-block;border-radius:9px;padding:0 8px;font-size:12px;color:#fff;background:var(--muted)}
.badge.error{background:var(--error)}.badge.warning{background:var(--warning)}.badge.info{background:var(--info)}
.status{font-weight:600}.status.fail{color:var(--error)}.status.pass{color:#15803d}
#filters{position:sticky;top:0;z-index:2;background:var(--bg);border-bottom:1px solid var(--line);
padding:8px 0;margin-top:16px;display:flex;gap:14px;align-items:center;flex-wrap:wrap}
.doc{margin:0 0 10px;color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden;
display:flex;flex-direction:column}
.card[data-severity=error]{border-top:3px solid var(--error)}
.card[data-severity=warning]{border-top:3px solid var(--warning)}
.card[data-severity=info]{border-top:3px solid var(--info)}
.card img{display:block;max-width:100%;height:auto;margin:0 auto;background:#28282e}
.noimg{height:56px;display:flex;align-items:center;justify-content:center;color:var(--muted);
background:repeating-linear-gradient(45deg,#f1f5f9,#f1f5f9 8px,#e2e8f0 8px,#e2e8f0 16px)}
.body{padding:8px 10px}
.loc{display:block;overflow-wrap:anywhere}
.msg{margin:4px 0}
.fix{margin:4px 0;color:#15803d}
.body .muted{margin:4px 0;font-size:12px;overflow-wrap:anywhere}
.more{color:var(--muted);font-style:italic}
#findings{display:flex;flex-wrap:wrap;gap:0 24px;align-items:flex-start}
.rule{flex:1 1 calc(var(--cards,1) * 282px - 12px);min-width:min(270px,100%);max-width:100%}
.empty{flex-basis:100%}
#legend{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center;font-size:12.5px;color:var(--muted);margin:8px 0}
#legend i{display:inline-block;width:22px;height:14px;margin-right:6px;vertical-align:middle;box-sizing:border-box}
pre.src{margin:0;padding:8px 10px;background:#0f172a;color:#e2e8f0;font:12px/1.4 ui-monospace,SFMono-Regular,
Menlo,Consolas,monospace;overflow-x:auto;white-space:pre}
.panels{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:0;background:var(--card);border:1px solid var(--line);padding:6px}
figcaption{color:var(--muted);font-size:12px;text-align:center}
.empty{font-size:16px;color:#15803d}
"""

JS = """
(function(){
  var code=document.getElementById('f-code'), split=document.getElementById('f-split');
  var boxes=document.querySelectorAll('input[name=sev]'), total=document.getElementById('f-count');
  function apply(){
    var sev={}; boxes.forEach(function(b){ if(b.checked) sev[b.value]=1; });
    var c=code?code.value:'', s=split?split.value:'', shown=0;
    document.querySelectorAll('section.rule').forEach(function(sec){
      var visible=0;
      sec.querySelectorAll('.card').forEach(function(card){
        var ok=sev[card.dataset.severity] && (!c||card.dataset.code===c) && (!s||card.dataset.split===s);
        card.hidden=!ok; if(ok) visible++;
      });
      sec.hidden=!sev[sec.dataset.severity] || (c && sec.dataset.code!==c) || (s && visible===0);
      if(!sec.hidden) shown+=visible;
    });
    if(total) total.textContent=shown+' cards shown';
  }
  boxes.forEach(function(b){ b.addEventListener('change',apply); });
  if(code) code.addEventListener('change',apply);
  if(split) split.addEventListener('change',apply);
  apply();
})();
"""
