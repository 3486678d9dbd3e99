"""What the layout tests visit and measure: every page a role may open, derived from the Dash
page registry and the roles' capabilities (a new page is measured without editing a list), and
the page's width once rendered (`overflow_px`), with the elements that stick out."""

from __future__ import annotations

import re

from carnet.roles import can
from tests.helpers.wait import held, until

PHONE = (390, 844)
DESKTOP = (1400, 1000)
TEMPLATE_VAR = re.compile(r"<([^>]+)>")

# how wide the page is, and which visible elements reach past the window's right edge
MEASURE_JS = """
const w = window.innerWidth, doc = document.documentElement;
const out = [];
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) continue;
  if (r.right > w + 1) {
    let scroller = el.parentElement, clipped = false;
    while (scroller && scroller !== document.body) {
      const ox = getComputedStyle(scroller).overflowX;
      if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { clipped = true; break; }
      scroller = scroller.parentElement;
    }
    if (!clipped) {
      out.push((el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
      ) + ' right=' + Math.round(r.right));
    }
  }
}
return {scroll: doc.scrollWidth, inner: w, culprits: out.slice(0, 12)};
"""

# Dash has rendered the page: its content holds a heading, no component is loading, and the
# width did not change since the previous look (tables filled by a callback are counted)
RENDERED_JS = """
const content = document.querySelector('#_pages_content') || document.body;
const ready = content.querySelector('h1') !== null
  && document.querySelector('[data-dash-is-loading="true"]') === null
  && document.readyState === 'complete';
return ready ? [document.documentElement.scrollWidth, document.body.scrollHeight] : null;
"""


def pages_of_role(role: str, template_values: dict[str, str]) -> list[str]:
    """The paths of the registered pages `role` may open (the shell's rule: no capability, or
    one the role has), templates filled from `template_values`; the 404 page is left out."""
    import dash

    paths = []
    for page in dash.page_registry.values():
        if page["module"].endswith("not_found_404"):
            continue
        capability = page.get("capability")
        if capability is not None and not can(role, capability):
            continue
        template = page.get("path_template")
        if template:
            names = TEMPLATE_VAR.findall(template)
            missing = [n for n in names if n not in template_values]
            assert not missing, f"{page['module']} : valeur de {missing} à fournir au test"
            paths.append(TEMPLATE_VAR.sub(lambda m: template_values[m.group(1)], template))
        else:
            paths.append(page["path"])
    return paths


def wait_rendered(browser, timeout: float = 20, settled_s: float = 0.25) -> None:
    """Until the Dash page is rendered and its size has not changed for `settled_s`, looked at
    every 50 ms (a layout test opens some 50 pages per role)."""
    look = held(lambda: browser.execute_script(RENDERED_JS), settled_s)
    until(look, timeout_s=timeout, interval_s=0.05, what="the page rendered and its size still")


def overflow(browser) -> dict:
    """{scroll, inner, culprits}: the document's width, the window's, what sticks out."""
    return browser.execute_script(MEASURE_JS)


# the controls a thumb must hit: visible buttons, fields, dropdowns and the navigation links
CONTROLS_JS = """
const small = [];
const sel = 'button, input:not([type=hidden]), select, textarea, .nav-link, .dash-dropdown';
for (const el of document.querySelectorAll(sel)) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
  let target = r;
  if (el.type === 'checkbox' || el.type === 'radio') {
    const label = el.closest('label');
    if (label) target = label.getBoundingClientRect();
  }
  if (target.height < 44 - 0.5) {
    small.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
      ' h=' + Math.round(target.height));
  }
}
return small.slice(0, 12);
"""


def small_controls(browser) -> list[str]:
    """The visible controls less than 44 px high (a checkbox counts with its label)."""
    return browser.execute_script(CONTROLS_JS)
