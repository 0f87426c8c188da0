//! A WebDriver session on Debian's chromedriver and headless Chromium, through the `fantoccini`
//! client, with blocking methods for the tests.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
}

/// chromedriver's browser log (`/se/log`), which W3C WebDriver does not name.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp(Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

impl Browser {
    pub fn start() -> Browser {
        let port = crate::common::free_port();
        let driver = std::process::Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver, which scripts/test installs)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let caps = json!({"browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--window-size=375,812"]}});
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = rt
            .block_on(
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .expect("a WebDriver session");
        Browser {
            rt,
            client: Some(client),
            driver,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    pub fn open(&self, url: &str) {
        self.rt.block_on(self.client().goto(url)).unwrap();
    }

    pub fn script(&self, js: &str, args: Value) -> Value {
        let args = match args {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        self.rt
            .block_on(self.client().execute(js, args))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{js}"))
    }

    /// Waits until `js` returns `want`.
    pub fn wait_for(&self, js: &str, want: &str) {
        let mut got = Value::Null;
        for _ in 0..100 {
            got = self.script(js, json!([]));
            if got == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{js} gave {got}, not {want}");
    }

    fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.rt
            .block_on(self.client().find(Locator::Css(css)))
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub fn click(&self, css: &str) {
        let el = self.find(css);
        self.rt.block_on(el.click()).unwrap();
    }

    /// Types into an element, as a person would (for a file input: a file's path).
    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.rt.block_on(el.send_keys(text)).unwrap();
    }

    /// Presses keys (WebDriver key codes, e.g. "\u{E004}" for Tab) on whatever has focus.
    pub fn press(&self, keys: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for k in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value: k })
                .then(KeyAction::Up { value: k });
        }
        self.rt
            .block_on(self.client().perform_actions(actions))
            .unwrap();
    }

    /// The viewport's width in CSS pixels. A desktop window cannot be narrower than about 500
    /// px, so phone widths are emulated as a phone's screen (DevTools' device metrics).
    pub fn resize(&self, width: u32) {
        self.rt
            .block_on(self.client().set_window_size(width.max(800), 900))
            .unwrap();
        let cdp = if width < 800 {
            json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": width, "height": 812, "deviceScaleFactor": 1, "mobile": false}})
        } else {
            json!({"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}})
        };
        self.rt
            .block_on(self.client().issue_cmd(Cdp(cdp)))
            .expect("the viewport's metrics");
        let inner = self.script("return window.innerWidth", json!([]));
        assert_eq!(inner, json!(width), "the viewport is {width} px wide");
    }

    /// Visible controls shorter than a 44 px tap target: buttons, fields, selects and file
    /// buttons (check boxes and links inside text excepted).
    pub fn small_targets(&self) -> Vec<String> {
        let found = self.script(
            r##"const out = [];
            for (const el of document.querySelectorAll("button, select, textarea, input:not([type=checkbox]):not([type=radio]):not([type=hidden]), .file-button")) {
              const r = el.getBoundingClientRect();
              if (!r.width || !r.height || el.closest("[hidden], .hidden, dialog:not([open])")) continue;
              if (getComputedStyle(el).clip === "rect(0px, 0px, 0px, 0px)") continue;
              if (r.height < 43.5) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " + Math.round(r.height) + "px");
            }
            return out;"##,
            json!([]),
        );
        strings(&found)
    }

    /// How far the page is wider than its viewport (0 when nothing overflows), and the widest
    /// elements past the edge, to name in a failure.
    pub fn overflow(&self) -> (i64, Vec<String>) {
        let found = self.script(
            r##"const w = document.documentElement.clientWidth;
            const over = document.documentElement.scrollWidth - w;
            const culprits = [];
            for (const el of document.querySelectorAll("body *")) {
              const r = el.getBoundingClientRect();
              if (r.width && r.right > w + 1 && getComputedStyle(el).position !== "fixed") {
                let inScroller = false;
                for (let p = el.parentElement; p; p = p.parentElement) {
                  const o = getComputedStyle(p).overflowX;
                  if (o === "auto" || o === "scroll" || o === "hidden") { inScroller = true; break; }
                }
                if (!inScroller) culprits.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "") + " right=" + Math.round(r.right));
              }
            }
            return [over, culprits.slice(0, 8)];"##,
            json!([]),
        );
        (found[0].as_i64().unwrap_or(0), strings(&found[1]))
    }

    /// Saves a screenshot of the top of the page as `target/screenshots/<name>.png`.
    pub fn screenshot(&self, name: &str) {
        self.script("window.scrollTo(0, 0); return true", json!([]));
        self.capture(name);
    }

    /// Saves a screenshot of what the viewport shows now.
    pub fn capture(&self, name: &str) {
        let png = self.rt.block_on(self.client().screenshot()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The browser console's errors and warnings since the last call.
    pub fn console_problems(&self) -> Vec<String> {
        let logs = self
            .rt
            .block_on(self.client().issue_cmd(BrowserLog))
            .expect("the browser log");
        logs.as_array()
            .unwrap_or_else(|| panic!("no browser log: {logs}"))
            .iter()
            .filter(|l| l["level"] == "SEVERE" || l["level"] == "WARNING")
            .map(|l| l["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Form controls of the page without a label (a `<label for>`, an enclosing label, or
    /// `aria-label`), and clickable things the keyboard cannot reach.
    pub fn accessibility_problems(&self) -> Vec<String> {
        let found = self.script(
            r#"const out = [];
            for (const el of document.querySelectorAll("input, select, textarea")) {
              if (el.type === "hidden") continue;
              if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label")) out.push("no label: #" + el.id);
            }
            for (const el of document.querySelectorAll("[onclick], div[role=button], span[role=button]")) {
              if (el.tabIndex < 0) out.push("not focusable: " + el.outerHTML.slice(0, 80));
            }
            return out;"#,
            json!([]),
        );
        strings(&found)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.rt.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A script's array of strings.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}
