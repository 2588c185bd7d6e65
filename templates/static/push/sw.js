/*
 * crieur service worker: shows breaking-news alerts and opens the article
 * on click.
 *
 * A service worker must come from the publisher's own origin. Serve, at
 * /crieur-sw.js (the widget's default, see its data-sw):
 *   - either the one line
 *       importScripts("https://crieur.example/push/sw.js");
 *     which always runs crieur's current version;
 *   - or a copy of this file.
 *
 * Where crieur is (to re-subscribe when the browser replaces a
 * subscription), first found of:
 *   1. self.CRIEUR_URL, if the file sets it before importScripts
 *      (self.CRIEUR_URL = "https://crieur.example";);
 *   2. what the widget stored when the reader opted in;
 *   3. the ?crieur= parameter the widget adds to the service worker URL;
 *   4. the origin this file was imported from;
 *   5. the publisher's own origin.
 *
 * Push payload: {"title", "body", "url", "icon"?, "image"?, "alert_id", "tag"?}.
 * Every message is also posted to the publisher's open pages as
 * {type: "crieur-push", payload, shown}, which pages may ignore.
 */
(function () {
  'use strict';
  var CACHE = 'crieur-push';
  var PREFS_URL = self.location.origin + '/.crieur-push-prefs'; // written by widget.js

  // The URL of this script when imported: error stacks name it.
  var scriptBase = (function () {
    try { throw new Error(); } catch (e) {
      var m = /(https?:\/\/[^\s()@]+?)\/push\/sw\.js/.exec(String(e.stack));
      return m ? m[1] : '';
    }
  })();

  async function readPrefs() {
    try {
      var r = await (await caches.open(CACHE)).match(PREFS_URL);
      return r ? await r.json() : {};
    } catch (e) {
      return {};
    }
  }

  async function writePrefs(p) {
    try {
      await (await caches.open(CACHE)).put(PREFS_URL, new Response(JSON.stringify(p), {headers: {'Content-Type': 'application/json'}}));
    } catch (e) { /* best effort */ }
  }

  function crieurBase(prefs) {
    return self.CRIEUR_URL || prefs.crieur || new URL(self.location.href).searchParams.get('crieur') ||
      scriptBase || self.location.origin;
  }

  function urlBase64ToUint8Array(s) {
    var b64 = (s + '='.repeat((4 - s.length % 4) % 4)).replace(/-/g, '+').replace(/_/g, '/');
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  async function tellPages(payload, shown) {
    try {
      var list = await self.clients.matchAll({type: 'window', includeUncontrolled: true});
      list.forEach(function (c) { c.postMessage({type: 'crieur-push', payload: payload, shown: shown}); });
    } catch (e) { /* never fail the push because of a page */ }
  }

  // Tells crieur that an alert's notification was shown, or opened
  // (POST /api/v1/push/events, counted once per browser and alert). Best
  // effort: counting is never worth a lost notification or click.
  async function report(alertId, type) {
    if (!alertId) return;
    try {
      var sub = await self.registration.pushManager.getSubscription();
      if (!sub) return;
      var base = crieurBase(await readPrefs());
      await fetch(base + '/api/v1/push/events', {
        method: 'POST', credentials: 'omit', keepalive: true, headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({alert_id: String(alertId), type: type, endpoint: sub.endpoint})
      });
    } catch (e) { /* best effort */ }
  }

  // A new version takes over at once: there is no page state to migrate.
  self.addEventListener('install', function () { self.skipWaiting(); });
  self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

  // Every push shows a notification, whatever it carries: iOS and Safari
  // revoke a subscription whose pushes show none (userVisibleOnly), so a
  // payload that does not parse still shows the site's name, and a
  // notification the browser refuses (an image it cannot load, an option
  // it lacks) is shown again with its title and text alone.
  self.addEventListener('push', function (event) {
    var msg = {};
    try {
      if (event.data) {
        try { msg = event.data.json(); } catch (e) { msg = {body: event.data.text()}; }
      }
    } catch (e) { msg = {}; }
    if (!msg || typeof msg !== 'object') msg = {body: String(msg || '')};
    var str = function (v) { return typeof v === 'string' ? v : ''; };
    var opts = {body: str(msg.body), data: {url: str(msg.url), alert_id: msg.alert_id || null}};
    if (str(msg.icon)) opts.icon = msg.icon;
    if (str(msg.image)) opts.image = msg.image;
    if (str(msg.tag)) {
      opts.tag = msg.tag;
      opts.renotify = true; // an update of an alert still rings
    }
    var title = str(msg.title) || new URL(self.registration.scope).hostname;
    event.waitUntil(self.registration.showNotification(title, opts).catch(function () {
      return self.registration.showNotification(title, {body: opts.body, data: opts.data});
    }).then(
      function () { return Promise.all([tellPages(msg, true), report(msg.alert_id, 'shown')]); },
      function (err) { return tellPages(msg, false).then(function () { throw err; }); }));
  });

  self.addEventListener('notificationclick', function (event) {
    event.notification.close();
    var data = event.notification.data || {};
    var url = data.url;
    var reported = report(data.alert_id, 'clicked');
    if (!url || !/^https?:/i.test(url)) {
      event.waitUntil(reported);
      return;
    }
    event.waitUntil(Promise.all([reported, self.clients.matchAll({type: 'window', includeUncontrolled: true}).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].url === url && 'focus' in list[i]) return list[i].focus();
      }
      return self.clients.openWindow(url);
    })]));
  });

  // The browser replaced or expired the subscription: subscribe again with
  // the same key and the reader's topics, and tell crieur.
  self.addEventListener('pushsubscriptionchange', function (event) {
    event.waitUntil((async function () {
      var prefs = await readPrefs();
      var base = crieurBase(prefs);
      var old = event.oldSubscription;
      var sub = event.newSubscription;
      if (!sub) {
        var key = old && old.options && old.options.applicationServerKey;
        if (!key) {
          var r = await fetch(base + '/api/v1/push/key', {credentials: 'omit'});
          key = urlBase64ToUint8Array((await r.json()).public_key);
        }
        sub = await self.registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key});
      }
      var res = await fetch(base + '/api/v1/push/subscriptions', {
        method: 'POST', credentials: 'omit', headers: {'Content-Type': 'application/json'},
        // The reader's zone and quiet hours too: a post without them
        // would remove them.
        body: JSON.stringify(Object.assign({subscription: sub.toJSON(), topics: prefs.topics || [], lang: prefs.lang || 'fr'},
          prefs.timezone ? {timezone: prefs.timezone} : {}, prefs.quiet_hours ? {quiet_hours: prefs.quiet_hours} : {}))
      });
      if (!res.ok) throw new Error('crieur answered ' + res.status);
      var oldEndpoint = (old && old.endpoint) || prefs.endpoint;
      if (oldEndpoint && oldEndpoint !== sub.endpoint) {
        await fetch(base + '/api/v1/push/subscriptions', {
          method: 'DELETE', credentials: 'omit', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({endpoint: oldEndpoint})
        }).catch(function () {});
      }
      prefs.endpoint = sub.endpoint;
      prefs.crieur = base;
      await writePrefs(prefs);
    })());
  });
})();
