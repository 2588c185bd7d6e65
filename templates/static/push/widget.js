/*
 * crieur push widget: breaking-news alerts opt-in for a publisher's page.
 *
 *   <script src="https://crieur.example/push/widget.js"
 *           data-topics="politique,afrique" data-lang="fr" async></script>
 *
 * data-topics  topics ticked by default (slugs, comma-separated)
 * data-lang    "fr" or "en" (default: the browser's language, else French)
 * data-sw      the service worker URL on the publisher's origin
 *              (default "/crieur-sw.js"; see sw.js for what to put in it)
 * data-button  "none" to draw no button (the page uses window.crieurPush)
 * data-quiet   the quiet hours the widget offers, "22:00-07:00" (the
 *              default); "none" offers none
 *
 * The reader's time zone (the browser's) goes with the subscription, and
 * "not between 22:00 and 07:00" when ticked: crieur then holds alerts that
 * are not breaking until the morning. On every page load the widget checks
 * the browser's subscription and sends it again (at most hourly), so a
 * subscription the browser or crieur lost is restored. On an iPhone or
 * iPad, web push only works from a site added to the Home Screen: there
 * the widget explains how, instead of a button that cannot work.
 *
 * The browser's permission prompt is only ever shown after a click on
 * "Activer les alertes". window.crieurPush = {enable(topics), disable(),
 * state(), ready} lets the page drive the same steps from its own UI (all
 * return promises; ready settles once the button is drawn); call enable()
 * from a click handler.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.crieurPush) return;

  var BASE = script.src.replace(/\/push\/widget\.js(?:[?#].*)?$/, '');
  var ds = script.dataset;
  var SW = new URL(ds.sw || '/crieur-sw.js', location.href);
  SW.searchParams.set('crieur', BASE); // tells the service worker where crieur is
  var STORE = 'crieur-push:' + BASE;
  var CACHE = 'crieur-push';
  var PREFS_URL = location.origin + '/.crieur-push-prefs'; // a Cache Storage key, never fetched
  // A pushManager call made while the browser's push client is still
  // starting may never settle (seen in Firefox): give each call a deadline
  // and ask again.
  var PUSH_TRIES = 4;
  var PUSH_TIMEOUT = 4000;

  var supported = 'serviceWorker' in navigator && 'PushManager' in window &&
    'Notification' in window && window.isSecureContext;
  // iOS and iPadOS (which says it is a Mac) give web push to Home Screen
  // apps only (iOS 16.4+).
  var ios = /iPad|iPhone|iPod/.test(navigator.userAgent) ||
    (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
  var standalone = navigator.standalone === true ||
    (window.matchMedia && window.matchMedia('(display-mode: standalone)').matches);
  var needsHomeScreen = ios && !standalone;
  if (needsHomeScreen) supported = false;

  var QUIET = (function (q) {
    var m = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(q || '22:00-07:00');
    return m && q !== 'none' ? {from: m[1] + ':' + m[2], to: m[3] + ':' + m[4]} : null;
  })(ds.quiet);
  var RESYNC = 3600 * 1000; // re-send the subscription at most this often

  function zone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { return ''; }
  }

  var TEXT = {
    fr: {
      open: 'Recevoir les alertes', on: 'Alertes activées', title: 'Alertes info',
      intro: 'Une notification quand l’information tombe. Choisissez vos thèmes :',
      enable: 'Activer les alertes', save: 'Enregistrer', disable: 'Désactiver les alertes',
      close: 'Fermer', busy: 'Un instant…', enabled: 'Alertes activées.', saved: 'Thèmes enregistrés.',
      disabled: 'Alertes désactivées.', denied: 'Les notifications sont bloquées dans les réglages du navigateur.',
      failed: 'Impossible d’activer les alertes. Réessayez plus tard.', none: 'Choisissez au moins un thème.',
      quiet: 'Pas d’alerte entre %1 et %2, sauf urgence',
      ios: 'Sur iPhone et iPad, les alertes arrivent par l’app du site : touchez le bouton Partager, puis « Sur l’écran d’accueil », ouvrez le site depuis sa nouvelle icône et activez les alertes.'
    },
    en: {
      open: 'Get breaking news alerts', on: 'Alerts on', title: 'News alerts',
      intro: 'A notification when news breaks. Pick your topics:',
      enable: 'Turn on alerts', save: 'Save', disable: 'Turn off alerts',
      close: 'Close', busy: 'One moment…', enabled: 'Alerts are on.', saved: 'Topics saved.',
      disabled: 'Alerts are off.', denied: 'Notifications are blocked in your browser settings.',
      failed: 'Could not turn on alerts. Please try again later.', none: 'Pick at least one topic.',
      quiet: 'No alerts between %1 and %2, except breaking news',
      ios: 'On iPhone and iPad, alerts come through the site’s app: tap the Share button, then “Add to Home Screen”, open the site from its new icon and turn on alerts.'
    }
  };

  function pickLang() {
    var want = [ds.lang].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < want.length; i++) {
      var l = String(want[i] || '').slice(0, 2).toLowerCase();
      if (TEXT[l]) return l;
    }
    return 'fr';
  }
  var lang = pickLang();
  var T = TEXT[lang];

  function splitTopics(s) {
    return String(s || '').split(',').map(function (x) { return x.trim(); }).filter(Boolean);
  }

  function loadPrefs() {
    try { return JSON.parse(localStorage.getItem(STORE)) || null; } catch (e) { return null; }
  }

  // Prefs go to localStorage for the page and to Cache Storage for the
  // service worker, which re-subscribes with them on pushsubscriptionchange.
  async function savePrefs(p) {
    try {
      if (p) localStorage.setItem(STORE, JSON.stringify(p)); else localStorage.removeItem(STORE);
    } catch (e) { /* private mode: the subscription itself still says on/off */ }
    try {
      var c = await caches.open(CACHE);
      if (p) await c.put(PREFS_URL, new Response(JSON.stringify(p), {headers: {'Content-Type': 'application/json'}}));
      else await c.delete(PREFS_URL);
    } catch (e) { /* no Cache Storage: re-subscription falls back to no topics */ }
  }

  async function api(method, path, body) {
    var init = {method: method, mode: 'cors', credentials: 'omit', keepalive: method === 'DELETE'};
    if (body !== undefined) {
      init.headers = {'Content-Type': 'application/json'};
      init.body = JSON.stringify(body);
    }
    var r = await fetch(BASE + path, init);
    if (!r.ok) {
      var err = new Error(method + ' ' + path + ': HTTP ' + r.status);
      err.status = r.status;
      throw err;
    }
    return r.status === 204 ? null : r.json();
  }

  function urlBase64ToUint8Array(s) {
    var b64 = (s + '='.repeat((4 - s.length % 4) % 4)).replace(/-/g, '+').replace(/_/g, '/');
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function sameKey(a, b) {
    if (!a || !b) return false;
    a = new Uint8Array(a);
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  async function registration(create) {
    var reg = await navigator.serviceWorker.getRegistration(SW.href);
    if (!reg && create) reg = await navigator.serviceWorker.register(SW.href);
    return reg || null;
  }

  async function currentSubscription() {
    if (!supported) return null;
    var reg = await registration(false);
    return reg ? pushCall(function () { return reg.pushManager.getSubscription(); }) : null;
  }

  function activated(reg) {
    if (reg.active) return Promise.resolve(reg);
    return new Promise(function (resolve, reject) {
      var w = reg.installing || reg.waiting;
      if (!w) { reject(new Error('service worker not installing')); return; }
      w.addEventListener('statechange', function () {
        if (w.state === 'activated') resolve(reg);
        else if (w.state === 'redundant') reject(new Error('service worker failed to install'));
      });
    });
  }

  function withTimeout(p, ms) {
    return new Promise(function (resolve, reject) {
      var t = setTimeout(function () { reject(new Error('timeout')); }, ms);
      p.then(function (v) { clearTimeout(t); resolve(v); }, function (e) { clearTimeout(t); reject(e); });
    });
  }

  async function pushCall(fn) {
    for (var i = 1; ; i++) {
      try {
        return await withTimeout(fn(), PUSH_TIMEOUT);
      } catch (e) {
        if (i >= PUSH_TRIES || e.message !== 'timeout') throw e;
      }
    }
  }

  async function state() {
    var sub = await currentSubscription();
    var prefs = loadPrefs();
    return {
      supported: supported,
      permission: supported ? Notification.permission : 'unsupported',
      enabled: !!sub,
      endpoint: sub ? sub.endpoint : null,
      topics: prefs ? prefs.topics : splitTopics(ds.topics),
      quiet: !!(prefs && prefs.quiet && QUIET),
      timezone: zone(),
      lang: lang,
      homeScreen: needsHomeScreen
    };
  }

  // enable subscribes (or updates the topics of an existing subscription);
  // opts.quiet asks for the offered quiet hours (default: as before).
  // Outside a click handler it only works once notifications are allowed.
  async function enable(topics, opts) {
    if (!supported) throw new Error('push not supported');
    topics = Array.isArray(topics) ? topics : splitTopics(ds.topics);
    var before = loadPrefs();
    var quiet = opts && typeof opts.quiet === 'boolean' ? opts.quiet : !!(before && before.quiet);
    var perm = Notification.permission;
    if (perm !== 'granted') perm = await Notification.requestPermission();
    if (perm !== 'granted') {
      var denied = new Error('notifications ' + perm);
      denied.name = 'NotAllowedError';
      throw denied;
    }
    var reg = await activated(await registration(true));
    var key = urlBase64ToUint8Array((await api('GET', '/api/v1/push/key')).public_key);
    var sub = await pushCall(function () { return reg.pushManager.getSubscription(); });
    if (sub && !sameKey(sub.options.applicationServerKey, key)) {
      await sub.unsubscribe(); // made for another VAPID key
      sub = null;
    }
    var fresh = !sub;
    if (fresh) {
      sub = await pushCall(function () {
        return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key});
      });
    }
    var prefs = loadPrefs();
    var body = {subscription: sub.toJSON(), topics: topics, lang: lang};
    var tz = zone();
    if (tz) body.timezone = tz;
    if (quiet && QUIET) body.quiet_hours = QUIET;
    try {
      try {
        await api('POST', '/api/v1/push/subscriptions', body);
      } catch (e) {
        // A zone this crieur's database does not know: the daemon's.
        if (e.status !== 400 || !body.timezone) throw e;
        delete body.timezone;
        await api('POST', '/api/v1/push/subscriptions', body);
      }
    } catch (e) {
      if (fresh) await sub.unsubscribe().catch(function () {});
      throw e;
    }
    if (prefs && prefs.endpoint && prefs.endpoint !== sub.endpoint) {
      api('DELETE', '/api/v1/push/subscriptions', {endpoint: prefs.endpoint}).catch(function () {});
    }
    await savePrefs({topics: topics, lang: lang, endpoint: sub.endpoint, crieur: BASE, quiet: quiet, synced: Date.now(), timezone: tz,
      quiet_hours: body.quiet_hours || null});
    render(true);
    return state();
  }

  async function disable() {
    var sub = await currentSubscription();
    if (sub) {
      var endpoint = sub.endpoint;
      await sub.unsubscribe();
      await api('DELETE', '/api/v1/push/subscriptions', {endpoint: endpoint});
    }
    await savePrefs(null);
    render(false);
    return state();
  }

  // One operation at a time: the re-sync a page starts at load and a
  // reader's click must not interleave, or a late enable redraws the button
  // as on after the reader turned alerts off.
  var queue = Promise.resolve();
  function serial(fn) {
    return function () {
      var args = arguments;
      var p = queue.then(function () { return fn.apply(null, args); });
      queue = p.catch(function () {});
      return p;
    };
  }
  var enableOne = serial(enable), disableOne = serial(disable);

  // ---- the button and its panel, in a shadow root so styles stay apart ----

  var ui = null;

  var CSS = ':host{all:initial;position:fixed;right:16px;bottom:16px;z-index:2147483000;' +
    'font:15px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1a1a1a}' +
    'button{font:inherit;cursor:pointer;border-radius:6px;border:1px solid #1a1a1a;padding:.45em .9em;background:#fff;color:#1a1a1a}' +
    'button:focus-visible,input:focus-visible{outline:3px solid #1565c0;outline-offset:2px}' +
    '.main{box-shadow:0 2px 8px rgba(0,0,0,.2)}.main[aria-pressed=true]{background:#1a1a1a;color:#fff}' +
    '.panel{position:absolute;right:0;bottom:calc(100% + 8px);width:min(300px,calc(100vw - 32px));background:#fff;' +
    'border:1px solid #ccc;border-radius:8px;padding:12px 14px;box-shadow:0 4px 16px rgba(0,0,0,.2)}' +
    '.panel[hidden]{display:none}h2{font-size:1em;margin:0 0 .4em}p{margin:0 0 .5em}' +
    'fieldset{border:0;margin:0 0 .6em;padding:0}legend{padding:0;margin-bottom:.3em}' +
    'label{display:block;padding:.15em 0}.row{display:flex;gap:8px;flex-wrap:wrap}' +
    '.primary{background:#1a1a1a;color:#fff}.close{position:absolute;top:6px;right:6px;border:0;padding:.1em .4em}' +
    '.status{min-height:1.2em;margin:.5em 0 0;font-size:.9em}';

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }

  function build() {
    var host = el('div', {'class': 'crieur-push', 'lang': lang});
    var root = host.attachShadow({mode: 'open'});
    root.appendChild(el('style', {}, CSS));
    var main = el('button', {'type': 'button', 'class': 'main', 'aria-pressed': 'false',
      'aria-expanded': 'false', 'aria-controls': 'crieur-panel'}, T.open);
    var panel = el('div', {'id': 'crieur-panel', 'class': 'panel', 'role': 'dialog', 'aria-labelledby': 'crieur-title', 'hidden': ''});
    var close = el('button', {'type': 'button', 'class': 'close', 'aria-label': T.close}, '×');
    var fs = el('fieldset');
    fs.appendChild(el('legend', {}, T.intro));
    var row = el('div', {'class': 'row'});
    var primary = el('button', {'type': 'button', 'class': 'primary'}, T.enable);
    var off = el('button', {'type': 'button', 'hidden': ''}, T.disable);
    var status = el('p', {'class': 'status', 'role': 'status', 'aria-live': 'polite'});
    row.append(primary, off);
    var quietBox = null;
    var quietLabel = el('label', {'class': 'quiet'});
    if (QUIET) {
      quietBox = el('input', {'type': 'checkbox', 'name': 'quiet'});
      quietLabel.append(quietBox, ' ' + T.quiet.replace('%1', QUIET.from).replace('%2', QUIET.to));
    }
    if (needsHomeScreen) {
      // No button that cannot work: how to get one that does.
      panel.append(close, el('h2', {'id': 'crieur-title'}, T.title), el('p', {'class': 'ios'}, T.ios));
    } else {
      panel.append(close, el('h2', {'id': 'crieur-title'}, T.title), fs);
      if (quietBox) panel.append(quietLabel);
      panel.append(row, status);
    }
    root.append(panel, main);
    ui = {host: host, main: main, panel: panel, fs: fs, primary: primary, off: off, status: status, quiet: quietBox, on: false};

    function show(open) {
      panel.hidden = !open;
      main.setAttribute('aria-expanded', String(open));
      if (open) (fs.querySelector('input') || primary).focus();
    }
    main.addEventListener('click', function () { show(panel.hidden); });
    close.addEventListener('click', function () { show(false); main.focus(); });
    panel.addEventListener('keydown', function (e) { if (e.key === 'Escape') { show(false); main.focus(); } });

    async function run(fn, okText) {
      primary.disabled = off.disabled = true;
      status.textContent = T.busy;
      try {
        await fn();
        status.textContent = okText;
      } catch (e) {
        status.textContent = (e.name === 'NotAllowedError') ? T.denied : T.failed;
      } finally {
        primary.disabled = off.disabled = false;
      }
    }
    primary.addEventListener('click', function () {
      var chosen = Array.prototype.filter.call(fs.querySelectorAll('input'), function (i) { return i.checked; })
        .map(function (i) { return i.value; });
      if (fs.querySelector('input') && !chosen.length) { status.textContent = T.none; return; }
      // The permission prompt comes from this click, never from page load.
      var q = quietBox ? {quiet: quietBox.checked} : undefined;
      run(function () { return enableOne(chosen, q); }, ui.on ? T.saved : T.enabled);
    });
    off.addEventListener('click', function () { run(disableOne, T.disabled); });
    document.body.appendChild(host);
  }

  function renderTopics(list, checked) {
    list.forEach(function (t) {
      var label = el('label');
      var box = el('input', {'type': 'checkbox', 'name': 'topic', 'value': t.slug});
      box.checked = checked.indexOf(t.slug) >= 0;
      label.append(box, ' ' + t.name);
      ui.fs.appendChild(label);
    });
  }

  function render(on) {
    if (!ui) return;
    ui.on = on;
    ui.main.setAttribute('aria-pressed', String(on));
    ui.main.textContent = on ? T.on : T.open;
    ui.primary.textContent = on ? T.save : T.enable;
    ui.off.hidden = !on;
  }

  async function init() {
    if (needsHomeScreen) {
      if (ds.button !== 'none') build();
      return;
    }
    var st = await state();
    if (ds.button !== 'none') {
      build();
      render(st.enabled);
      if (ui.quiet) ui.quiet.checked = st.quiet;
      try { renderTopics(await api('GET', '/api/v1/topics'), st.topics); } catch (e) { /* alerts for every topic */ }
    }
    // Re-check on every load: the browser may have replaced the
    // subscription while no page was open, or dropped it (iOS does), or
    // crieur may have lost it, or the reader moved to another zone. Send it
    // again (hourly at most when nothing changed); re-subscribe a reader
    // who opted in and still allows notifications.
    var prefs = loadPrefs();
    if (!prefs) return;
    var stale = !prefs.synced || Date.now() - prefs.synced > RESYNC;
    if (st.enabled && (prefs.endpoint !== st.endpoint || stale || prefs.timezone !== st.timezone)) {
      enableOne(prefs.topics).catch(function () {});
    } else if (!st.enabled && Notification.permission === 'granted') {
      enableOne(prefs.topics).catch(function () {});
    }
  }

  var markReady;
  var ready = new Promise(function (resolve) { markReady = resolve; });
  window.crieurPush = {enable: enableOne, disable: disableOne, state: state, ready: ready};
  var start = function () {
    (supported || needsHomeScreen ? init() : Promise.resolve()).catch(function () {}).then(function () { markReady(); });
  };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();
