#!/usr/bin/python3
"""Drives AttnLab's trace player in headless Chromium (Debian's chromium, chromium-driver and
python3-selenium) and checks that what it shows is the trace's own numbers.

    /usr/bin/python3 Tests/browser/test_player.py MANIFEST.json

The manifest (written by Tests/AttnLabCLITests/ViewTests.swift) lists pages and the JSONL traces
each was built from: {"pages": [{"page": path, "traces": [paths], "screenshot": name or null}],
"screenshots": folder, "palette": ["#0072b2", ...], "dark_background": "#14171c"}. Expected values
are computed here from the JSONL, independently of the page: bytes written/read so far and the cache
size at a step (decode), each tensor's HBM reads and writes so far, the trace's counters and the
watched row's m and l (tile). The script also checks that the page requests nothing (performance
resource entries and Chrome's network log), that the console stays clean, that ← → space Home End
and the slider step the player, that print media hides the controls, and it saves screenshots.
Exit status 0 when every check passes; each failure is printed on its own line.
"""
import json
import re
import sys

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains

failures = []
# The language of the page being checked ("en" or "ja", from its manifest entry): the player's own
# words follow it, the values (data-k) and the trace's names do not.
lang = "en"


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def number(text):
    """A number as the player prints it: '1,234 B' → 1234; '2.5' → 2.5."""
    return float(text.replace(",", "").replace(" B", "").strip())


# ---- expected values, from the JSONL alone ----

def decode_expected(lines):
    steps = [l for l in lines if l.get("type") == "step"]
    out, written, read = [], 0, 0
    for s in steps:
        written += s["bytes_written"]
        read += s["bytes_read"]
        out.append({"written": written, "read": read, "stored": s["cache_bytes"], "text": s["text"]})
    return out


def tile_expected(lines):
    steps = [l for l in lines if l.get("type") == "tile"]
    reads, writes, watch, out = {}, {}, None, []
    for s in steps:
        for t in s["loads"]:
            reads[t["tensor"]] = reads.get(t["tensor"], 0) + t["elements"]
        for t in s["stores"]:
            writes[t["tensor"]] = writes.get(t["tensor"], 0) + t["elements"]
        if "watch" in s:
            watch = s["watch"]
        out.append({"reads": dict(reads), "writes": dict(writes), "hbm_reads": s["hbm_reads"], "hbm_writes": s["hbm_writes"],
                    "sram": s["sram"], "sram_peak": s["sram_peak"], "watch": watch, "watch_step": s["step"] if "watch" in s else None})
    # The step a watch value was recorded at, carried forward.
    last = None
    for e in out:
        if e["watch_step"] is not None:
            last = e["watch_step"]
        e["watch_step"] = last
    return out


def train_expected(lines):
    out, val = [], None
    for l in lines:
        if "val_loss" in l:
            val = l
            if out and out[-1]["step"] == l["step"]:
                out[-1]["val"] = l
        else:
            out.append({"step": l["step"], "loss": l["loss"], "lr": l["lr"], "grad_norm": l["grad_norm"], "tokens": l["tokens"], "val": val})
    return out


# ---- reading the page ----

def shown(panel, key):
    return panel.find_element(By.CSS_SELECTOR, '[data-k="%s"]' % key).text


def step_of(panel):
    # "step 3 of 17", "step 24 of 4095 (4/512 shown)" or "ステップ 3 / 17"
    return int(shown(panel, "step").split()[1])


def check_decode(panel, exp, k, name):
    e = exp[k]
    check(step_of(panel) == k, "%s: step shown %d, expected %d" % (name, step_of(panel), k))
    for key in ["written", "read", "stored"]:
        got = number(shown(panel, key))
        check(got == e[key], "%s step %d: %s shown %s, trace %s" % (name, k, key, got, e[key]))
    now = panel.find_element(By.CSS_SELECTOR, ".ap-tok.ap-now").text
    check(now == e["text"].replace("\n", "↵").strip() or now.strip() == e["text"].replace("\n", "↵").strip(),
          "%s step %d: current token shown %r, trace %r" % (name, k, now, e["text"]))


def check_tile(panel, exp, k, name):
    e = exp[k]
    check(step_of(panel) == k, "%s: step shown %d, expected %d" % (name, step_of(panel), k))
    for key in ["hbm_reads", "hbm_writes", "sram", "sram_peak"]:
        got = number(shown(panel, key))
        check(got == e[key], "%s step %d: %s shown %s, trace %s" % (name, k, key, got, e[key]))
    for tensor, total in e["reads"].items():
        got = number(shown(panel, "reads-" + tensor))
        check(got == total, "%s step %d: %s reads so far shown %s, trace %s" % (name, k, tensor, got, total))
    for tensor, total in e["writes"].items():
        got = number(shown(panel, "writes-" + tensor))
        check(got == total, "%s step %d: %s writes so far shown %s, trace %s" % (name, k, tensor, got, total))
    if panel.find_elements(By.CSS_SELECTOR, '[data-k="m"]'):
        if e["watch"] is None:
            check(shown(panel, "watch_step") == ("未更新" if lang == "ja" else "not yet"), "%s step %d: the watched row has no value yet" % (name, k))
        else:
            for key in ["m", "l", "rescale"]:
                got = float(shown(panel, key))
                check(got == e["watch"][key], "%s step %d: watched %s shown %s, trace %s" % (name, k, key, got, e["watch"][key]))
            check(int(shown(panel, "watch_step")) == e["watch_step"], "%s step %d: watch step" % (name, k))


def check_train(panel, exp, k, name):
    e = exp[k]
    check(step_of(panel) == k, "%s: record shown %d, expected %d" % (name, step_of(panel), k))
    for key in ["loss", "lr", "grad_norm"]:
        got = float(shown(panel, key))
        check(got == e[key], "%s record %d: %s shown %s, log %s" % (name, k, key, got, e[key]))
    check(int(shown(panel, "train_step")) == e["step"] and number(shown(panel, "tokens")) == e["tokens"], "%s record %d: step/tokens" % (name, k))
    if e["val"] is not None:
        check(float(re.match(r"[-+.\deE]+", shown(panel, "val_loss")).group()) == e["val"]["val_loss"], "%s record %d: last validation loss" % (name, k))


def screenshot(driver, manifest, spec):
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(manifest["screenshots"] + "/" + spec["screenshot"])


def set_slider(driver, slider, value):
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", slider, value)


def press(driver, key, times=1):
    chain = ActionChains(driver)
    for _ in range(times):
        chain.send_keys(key)
    chain.perform()


def no_requests(driver, url, name):
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; });")
    check(resources == [], "%s: the page requested %s" % (name, resources))
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            target = message["params"]["request"]["url"]
            check(target == url, "%s: a request left the page: %s" % (name, target))


def clean_console(driver, name):
    for entry in driver.get_log("browser"):
        check(entry["level"] not in ("SEVERE", "WARNING"), "%s: console %s: %s" % (name, entry["level"], entry["message"]))


def main():
    manifest = json.load(open(sys.argv[1], encoding="utf-8"))
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1500", "--hide-scrollbars",
                     "--force-device-scale-factor=1", "--lang=en-US"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options)
    try:
        for spec in manifest["pages"]:
            run_page(driver, spec, manifest)
    finally:
        driver.quit()
    print("%d failure(s)" % len(failures) if failures else "all browser checks passed")
    return 1 if failures else 0


def run_page(driver, spec, manifest):
    global lang
    lang = spec.get("lang", "en")
    path, name = spec["page"], spec["page"].rsplit("/", 1)[-1] + ("" if lang == "en" else " (%s)" % lang)
    url = "file://" + path
    driver.get_log("performance")
    driver.get(url)
    if spec.get("report"):
        run_report(driver, spec, name)
        check_language(driver, name)
        no_requests(driver, url, name)
        clean_console(driver, name)
        return
    panels = driver.find_elements(By.CSS_SELECTOR, ".ap-panel")
    traces = [read_jsonl(t) for t in spec["traces"]]
    check(len(panels) == len(traces), "%s: %d panels for %d traces" % (name, len(panels), len(traces)))
    kinds = [t[0].get("kind", "train") if t[0].get("type") == "header" else "train" for t in traces]
    expected = [{"decode": decode_expected, "tile": tile_expected, "train": train_expected}[kind](t) for t, kind in zip(traces, kinds)]
    checker = {"decode": check_decode, "tile": check_tile, "train": check_train}
    # The colours are the figures' palette and themes (Sources/AttnFigures/Theme.swift).
    palette = driver.execute_script("var s = getComputedStyle(document.body); return Array.from({length: %d}, function (_, i) { return s.getPropertyValue('--c' + i).trim(); });" % len(manifest["palette"]))
    check(palette == manifest["palette"], "%s: palette %s, Theme has %s" % (name, palette, manifest["palette"]))

    if len(panels) == 1:
        panel, exp, kind = panels[0], expected[0], kinds[0]
        last = len(exp) - 1
        sampled = panel.find_elements(By.CSS_SELECTOR, '[data-k="sampled"]')
        if sampled:
            run_sampled(driver, panel, exp, kind, sampled[0].text, name)
        else:
            checker[kind](panel, exp, 0, name)
            press(driver, Keys.ARROW_RIGHT, 3)
            checker[kind](panel, exp, min(3, last), name)
            press(driver, Keys.ARROW_LEFT)
            checker[kind](panel, exp, min(2, last), name)
            # Half way (a tile run: four fifths, into the backward pass), where the screenshot is taken.
            mid = last * 4 // 5 if kind == "tile" else last // 2
            set_slider(driver, panel.find_element(By.CSS_SELECTOR, 'input[type=range]'), mid)
            checker[kind](panel, exp, mid, name)
            if spec.get("screenshot"):
                if kind == "decode":
                    check_layers(driver, panel, traces[0], name)
                screenshot(driver, manifest, spec)
            press(driver, Keys.END)
            checker[kind](panel, exp, last, name)
            if kind == "decode":
                summary = traces[0][-1]
                check(number(shown(panel, "written")) == summary["kv_bytes_written"], "%s: written at the end ≠ summary" % name)
                check(number(shown(panel, "read")) == summary["kv_bytes_read"], "%s: read at the end ≠ summary" % name)
            press(driver, Keys.HOME)
            checker[kind](panel, exp, 0, name)
            press(driver, " ")
            play = panel.find_element(By.CSS_SELECTOR, 'button[data-view=play]')
            check(("一時停止" if lang == "ja" else "pause") in play.text, "%s: space did not start playing" % name)
            press(driver, " ")
            check(("再生" if lang == "ja" else "play") in play.text, "%s: space did not pause" % name)
    else:
        # Side by side: the shared slider moves every run to the same fraction of its steps.
        lengths = [len(e) for e in expected]
        longest = max(lengths)
        for k in [0, 5, longest // 2]:
            if k == 5:
                press(driver, Keys.ARROW_RIGHT, 5)
            else:
                set_slider(driver, driver.find_element(By.CSS_SELECTOR, '[data-k="shared"]'), k)
            for panel, exp, kind, n in zip(panels, expected, kinds, lengths):
                checker[kind](panel, exp, int(k * (n - 1) / max(1, longest - 1) + 0.5), name)
        if spec.get("screenshot"):
            screenshot(driver, manifest, spec)
        # A panel with the focus steps alone.
        before = [step_of(p) for p in panels]
        driver.execute_script("arguments[0].focus();", panels[1])
        press(driver, Keys.ARROW_RIGHT)
        after = [step_of(p) for p in panels]
        check(after == [before[0], min(before[1] + 1, lengths[1] - 1), before[2]] + before[3:], "%s: a focused panel stepped %s → %s" % (name, before, after))
    check_language(driver, name)
    check_themes_and_print(driver, manifest, name)
    no_requests(driver, url, name)
    clean_console(driver, name)


def run_report(driver, spec, name):
    """A lesson report: every embedded player opens and plays; its step keeps its static figure."""
    folder = spec["page"].rsplit("/", 1)[0]
    markdown = open(folder + "/report.md", encoding="utf-8").read()  # which steps have a figure
    embeds = driver.find_elements(By.CSS_SELECTOR, "details.attnlab-embed")
    check(len(embeds) == spec["players"], "%s: %d embedded players, expected %d" % (name, len(embeds), spec["players"]))
    for details in embeds:
        section = details.find_element(By.XPATH, "./ancestor::section")
        # Without JavaScript the step reads as before: its figure (when it has one) and its text trace.
        check(len(section.find_elements(By.CSS_SELECTOR, "p.trace a")) >= 1, "%s: a step with a player lost its trace link" % name)
        title = section.find_element(By.TAG_NAME, "h2").text
        has_figure = "](figures/" in markdown.split("## " + title + "\n", 1)[1].split("\n## ", 1)[0]
        check(bool(section.find_elements(By.CSS_SELECTOR, "figure svg")) == has_figure, "%s: step %r lost its static figure" % (name, title))
        details.find_element(By.TAG_NAME, "summary").click()
        root = details.find_element(By.CSS_SELECTOR, ".attnlab-player")
        panels = root.find_elements(By.CSS_SELECTOR, ".ap-panel")
        check(len(panels) == len(root.get_attribute("data-traces").split()), "%s: a player group did not render all its runs" % name)
        check(not root.find_elements(By.CSS_SELECTOR, ".ap-error"), "%s: a player failed to read its data" % name)
        # The first run of the group, stepped alone, shows its trace's numbers.
        panel = panels[0]
        trace = read_jsonl(folder + "/" + panel.find_element(By.TAG_NAME, "h2").text)
        kind = trace[0]["kind"]
        exp = decode_expected(trace) if kind == "decode" else tile_expected(trace)
        if panel.find_elements(By.CSS_SELECTOR, '[data-k="sampled"]'):
            run_sampled(driver, panel, exp, kind, shown(panel, "sampled"), name)
            continue
        driver.execute_script("arguments[0].focus();", panel if len(panels) > 1 else root)
        press(driver, Keys.ARROW_RIGHT, 2)
        {"decode": check_decode, "tile": check_tile}[kind](panel, exp, min(2, len(exp) - 1), name)


def run_sampled(driver, panel, exp, kind, note, name):
    """A sampled page says so, and its totals are still over every step of the trace."""
    # "… keeps every 3rd step and the last …" or "… 3 ステップに 1 つと最後の …"
    every = int(re.search(r"(\d+) ステップに 1 つ" if lang == "ja" else r"every (\d+)", note).group(1))
    check(("間引き" if lang == "ja" else "Sampled") in note and str(len(exp)) in note.replace(",", ""), "%s: the sampling note %r" % (name, note))
    kept = list(range(0, len(exp), every)) + ([] if (len(exp) - 1) % every == 0 else [len(exp) - 1])
    checks = {"decode": check_decode, "tile": check_tile, "train": check_train}[kind]
    checks(panel, exp, 0, name)
    press(driver, Keys.ARROW_RIGHT, 2)
    checks(panel, exp, kept[2], name)
    set_slider(driver, panel.find_element(By.CSS_SELECTOR, 'input[type=range]'), len(kept) // 2)
    checks(panel, exp, kept[len(kept) // 2], name)
    press(driver, Keys.END)
    checks(panel, exp, len(exp) - 1, name)


def check_layers(driver, panel, trace, name):
    """The layer strip draws one arrow (two paths) from each consumer to the producer it reads."""
    config = trace[0]["config"]
    consumers = sum(1 for l, src in enumerate(config["kv_map"]) if src != l)
    paths = len(panel.find_elements(By.CSS_SELECTOR, 'svg[data-view=layers] path'))
    check(paths == 2 * consumers, "%s: %d arrow paths for %d consumer layers" % (name, paths, consumers))
    if trace[0]["detail"] == "full":
        cells = panel.find_elements(By.CSS_SELECTOR, 'svg[data-view=attention] rect')
        step = int(shown(panel, "step").split()[1])
        weights = [e for e in trace if e.get("type") == "attention" and e["step"] == step and e["layer"] == 0][0]["weights"]
        check(len(cells) == sum(len(r) for r in weights), "%s: %d attention cells for the trace's %d weights" % (name, len(cells), sum(len(r) for r in weights)))


def check_language(driver, name):
    """The page says its language, and in Japanese no label of the player is left in English: a
    heading, label, header, button, hint, legend, note or aria-label with an English word (three
    letters or more, not an acronym) must hold Japanese too. Values, tensor names and the trace's names are not labels."""
    check(driver.execute_script("return document.documentElement.lang") == lang or bool(driver.find_elements(By.CSS_SELECTOR, "[data-lang=%s]" % lang)),
          "%s: the page does not say it is in %s" % (name, lang))
    roots = driver.find_elements(By.CSS_SELECTOR, ".attnlab-player")
    check(all(r.get_attribute("data-lang") == lang for r in roots), "%s: a player is not in %s" % (name, lang))
    if lang != "ja":
        return
    texts = driver.execute_script("""
        var out = [];
        document.querySelectorAll('.attnlab-player').forEach(function (root) {
          root.querySelectorAll('h3, dt, th, button, .ap-hint, .ap-meta, .ap-note, .ap-warn, .ap-controls > span, [data-k=moved], [data-k=watch_step], [data-k=step]').forEach(function (e) {
            out.push(e.textContent);
          });
          root.querySelectorAll('[aria-label]').forEach(function (e) { out.push(e.getAttribute('aria-label')); });
        });
        document.querySelectorAll('h1, summary').forEach(function (e) { out.push(e.textContent); });
        return out;""")
    check(len(texts) > 20, "%s: only %d labels found" % (name, len(texts)))
    for text in texts:
        # An acronym (SRAM, HBM) is a symbol; a word with lower-case letters is English.
        words = [w for w in re.findall(r"[A-Za-z]{3,}", text) if not w.isupper()]
        english = words and not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text)
        check(not english, "%s: a label in English on a Japanese page: %r" % (name, text))


def check_themes_and_print(driver, manifest, name):
    button = driver.find_element(By.CSS_SELECTOR, "button.ap-theme")
    button.click()
    dark = driver.execute_script("return getComputedStyle(document.body).getPropertyValue('--bg').trim();")
    check(dark == manifest["dark_background"], "%s: the dark theme's background is %s, Theme.dark has %s" % (name, dark, manifest["dark_background"]))
    button.click()
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    hidden = driver.execute_script("return Array.prototype.every.call(document.querySelectorAll('.ap-controls input, .ap-controls button'), function (e) { return getComputedStyle(e).display === 'none'; });")
    check(hidden, "%s: print media still shows the controls" % name)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


if __name__ == "__main__":
    sys.exit(main())
