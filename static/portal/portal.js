/* Operator portal: live fragments over the /ws/portal/ socket, charts, the map.
   No build step; Chart.js and Leaflet are vendored under static/vendor/. */
(function () {
  "use strict";

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  /* --- live fragments --------------------------------------------------------------- */
  function initLive(box) {
    var url = box.getAttribute("data-live-url");
    var query = box.getAttribute("data-ws-query") || "";
    var note = document.querySelector("[data-live-note]");
    var timer = null, attempts = 0, inFlight = false, again = false;

    function say(text) { if (note) { note.querySelector(".state").textContent = text; } }

    function refresh() {
      if (inFlight) { again = true; return; }
      inFlight = true;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (html) {
          box.innerHTML = html;
          if (note) { note.querySelector(".when").textContent = new Date().toLocaleTimeString(); }
        })
        .catch(function () { say("update failed, retrying"); })
        .finally(function () { inFlight = false; if (again) { again = false; schedule(); } });
    }
    function schedule() { clearTimeout(timer); timer = setTimeout(refresh, 300); }

    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var ws = new WebSocket(scheme + location.host + "/ws/portal/" + query);
      ws.onopen = function () { attempts = 0; say("live"); box.setAttribute("data-live-state", "open"); schedule(); };
      ws.onmessage = function (event) {
        var msg = JSON.parse(event.data);
        if (msg.type === "cp.state") {
          box.setAttribute("data-last-event", msg.identity + ":" + msg.connector_id + ":" + msg.status);
          schedule();
        }
      };
      ws.onclose = function () {
        box.setAttribute("data-live-state", "closed");
        say("reconnecting…");
        attempts += 1;
        setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, attempts)));
      };
    }
    connect();
  }

  /* --- charts ----------------------------------------------------------------------- */
  var palette = ["#0b5cad", "#1d6b36", "#a4161a", "#7a4b00", "#5b2a86"];

  function timeFormatter(zone) {
    var fmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZone: zone || "UTC" });
    return function (ms) { return fmt.format(new Date(ms)); };
  }

  function dailyCharts(canvasEnergy, canvasRevenue, data) {
    var labels = data.days.map(function (d) { return d.slice(5); });
    new Chart(canvasEnergy, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: "Energy (kWh)", data: data.energy_kwh, backgroundColor: palette[0] }] },
      options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, title: { display: true, text: "kWh" } } } }
    });
    var currencies = Object.keys(data.revenue).sort();
    new Chart(canvasRevenue, {
      type: "bar",
      data: {
        labels: labels,
        datasets: currencies.map(function (c, i) {
          return { label: "Revenue (" + c + ")", data: data.revenue[c].map(Number), backgroundColor: palette[(i + 1) % palette.length] };
        })
      },
      options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true } } }
    });
  }

  function sessionChart(canvasPower, canvasSoc, data, zone) {
    var fmt = timeFormatter(zone);
    var xAxis = { type: "linear", ticks: { callback: function (v) { return fmt(v); }, maxTicksLimit: 8 } };
    var tooltip = { callbacks: { title: function (items) { return items.length ? fmt(items[0].parsed.x) : ""; } } };
    new Chart(canvasPower, {
      type: "line",
      data: {
        datasets: [
          { label: "Power (kW)", data: data.power.map(function (p) { return { x: p[0], y: p[1] / 1000 }; }), borderColor: palette[0], backgroundColor: palette[0], yAxisID: "y", pointRadius: 0, stepped: true },
          { label: "Energy (kWh)", data: data.energy.map(function (p) { return { x: p[0], y: p[1] / 1000 }; }), borderColor: palette[1], backgroundColor: palette[1], yAxisID: "y1", pointRadius: 0 }
        ]
      },
      options: {
        maintainAspectRatio: false, animation: false, parsing: false, plugins: { tooltip: tooltip },
        scales: { x: xAxis, y: { beginAtZero: true, title: { display: true, text: "kW" } },
                  y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "kWh" } } }
      }
    });
    if (canvasSoc && data.soc.length) {
      new Chart(canvasSoc, {
        type: "line",
        data: { datasets: [{ label: "State of charge (%)", data: data.soc.map(function (p) { return { x: p[0], y: p[1] }; }), borderColor: palette[2], backgroundColor: palette[2], pointRadius: 0 }] },
        options: { maintainAspectRatio: false, animation: false, parsing: false, plugins: { tooltip: tooltip },
                   scales: { x: xAxis, y: { min: 0, max: 100, title: { display: true, text: "%" } } } }
      });
    }
  }

  function siteLoadChart(canvas, data, zone) {
    var fmt = timeFormatter(zone);
    function points(series) { return series.map(function (p) { return { x: p[0], y: p[1] }; }); }
    new Chart(canvas, {
      type: "line",
      data: {
        datasets: [
          { label: "Capacity (A)", data: points(data.capacity), borderColor: palette[2], backgroundColor: palette[2], pointRadius: 0, stepped: true },
          { label: "Limits sent (A)", data: points(data.limits), borderColor: palette[0], backgroundColor: palette[0], pointRadius: 0, stepped: true },
          { label: "Measured draw (A)", data: points(data.draw), borderColor: palette[1], backgroundColor: palette[1], pointRadius: 0 }
        ]
      },
      options: {
        maintainAspectRatio: false, animation: false, parsing: false,
        plugins: { tooltip: { callbacks: { title: function (items) { return items.length ? fmt(items[0].parsed.x) : ""; } } } },
        scales: { x: { type: "linear", ticks: { callback: function (v) { return fmt(v); }, maxTicksLimit: 8 } },
                  y: { beginAtZero: true, title: { display: true, text: "A (busiest phase)" } } }
      }
    });
  }

  function priceChart(canvas, curve) {
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: curve.map(function (p) { return p.hour; }),
        datasets: [{ label: "Price per kWh" + (curve.length ? " (" + curve[0].currency + ")" : ""), data: curve.map(function (p) { return Number(p.price); }), backgroundColor: palette[0] }]
      },
      options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true } } }
    });
  }

  /* --- map -------------------------------------------------------------------------- */
  var statusColour = { available: "#1d9b4a", charging: "#1565c0", faulted: "#c62828", offline: "#6b7280", unavailable: "#d08a00" };

  function initMap(el, points) {
    // SVG markers are focusable and testable; canvas keeps thousands of markers fast.
    var map = L.map(el, { preferCanvas: points.length > 1500, attributionControl: true });
    var tileUrl = el.getAttribute("data-tile-url");
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: el.getAttribute("data-tile-attribution") || "" }).addTo(map);
    }
    var bounds = [];
    var placed = [];
    var bySpot = {};
    points.forEach(function (p) {
      var spot = p.lat + "," + p.lng;
      bySpot[spot] = (bySpot[spot] || 0) + 1;
    });
    var seen = {};
    points.forEach(function (p) {
      var spot = p.lat + "," + p.lng;
      seen[spot] = (seen[spot] || 0) + 1;
      var marker = L.circleMarker([p.lat, p.lng], {
        radius: 8, color: "#fff", weight: 2, fillColor: statusColour[p.status] || "#6b7280", fillOpacity: 0.95
      });
      var link = document.createElement("a");
      link.href = "/chargers/" + encodeURIComponent(p.identity) + "/";
      link.textContent = p.name + " (" + p.identity + ")";
      var box = document.createElement("div");
      box.appendChild(link);
      box.appendChild(document.createElement("br"));
      box.appendChild(document.createTextNode(p.site + " · " + p.status));
      marker.bindPopup(box);
      // Leaflet renders a string as HTML: charger ids and names are data, so text nodes only.
      var tip = document.createElement("span");
      tip.textContent = p.identity + ": " + p.status;
      marker.bindTooltip(tip);
      marker.addTo(map);
      placed.push({ marker: marker, at: L.latLng(p.lat, p.lng), index: seen[spot] - 1, count: bySpot[spot] });
      bounds.push([p.lat, p.lng]);
    });
    if (bounds.length) {
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
    } else {
      map.setView([50, 10], 4);
    }
    spreadShared(map, placed);
    map.on("zoomend", function () { spreadShared(map, placed); });
    if (!tileUrl) { drawGraticule(map); }
    L.control.scale().addTo(map);
  }

  /* Chargers of one site share its coordinates: spread them on a ring (a spiral when
     there are many) around the site's point, in screen pixels so they stay apart at every
     zoom. A lone charger stays on its point. */
  function spreadShared(map, placed) {
    placed.forEach(function (item) {
      if (item.count < 2) { return; }
      var perTurn = 8, turn = Math.floor(item.index / perTurn);
      var onTurn = Math.min(perTurn, item.count - turn * perTurn);
      var angle = 2 * Math.PI * (item.index % perTurn) / onTurn + turn * 0.4;
      // Neighbours on a ring at least 22 px apart (a marker is 18 px across); rings 30 px apart.
      var radius = Math.max(14, 11 / Math.sin(Math.PI / Math.max(onTurn, 2))) + 30 * turn;
      var centre = map.latLngToLayerPoint(item.at);
      var spot = L.point(centre.x + radius * Math.cos(angle), centre.y + radius * Math.sin(angle));
      item.marker.setLatLng(map.layerPointToLatLng(spot));
    });
  }

  /* Without tiles (offline) a light grid of meridians and parallels gives orientation. */
  function drawGraticule(map) {
    var layer = L.layerGroup().addTo(map);
    function redraw() {
      layer.clearLayers();
      var b = map.getBounds(), span = Math.max(b.getEast() - b.getWest(), 1e-6);
      var step = Math.pow(10, Math.floor(Math.log10(span / 4)));
      for (var x = Math.floor(b.getWest() / step) * step; x <= b.getEast(); x += step) {
        L.polyline([[b.getSouth(), x], [b.getNorth(), x]], { color: "#9fb3c8", weight: 1, interactive: false }).addTo(layer);
      }
      for (var y = Math.floor(b.getSouth() / step) * step; y <= b.getNorth(); y += step) {
        L.polyline([[y, b.getWest()], [y, b.getEast()]], { color: "#9fb3c8", weight: 1, interactive: false }).addTo(layer);
      }
    }
    map.on("moveend", redraw);
    redraw();
  }

  /* --- wiring ----------------------------------------------------------------------- */
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-url]").forEach(initLive);
    var daily = readJson("daily-data");
    if (daily && window.Chart) { dailyCharts(document.getElementById("energy-chart"), document.getElementById("revenue-chart"), daily); }
    var session = readJson("session-chart-data");
    if (session && window.Chart && document.getElementById("power-chart")) {
      var canvas = document.getElementById("power-chart");
      sessionChart(canvas, document.getElementById("soc-chart"), session, canvas.getAttribute("data-time-zone"));
    }
    var siteLoad = readJson("site-load-data");
    var siteCanvas = document.getElementById("site-load-chart");
    if (siteLoad && window.Chart && siteCanvas) { siteLoadChart(siteCanvas, siteLoad, siteCanvas.getAttribute("data-time-zone")); }
    var curve = readJson("price-curve");
    if (curve && curve.length && window.Chart) { priceChart(document.getElementById("price-chart"), curve); }
    var points = readJson("map-points");
    if (points && window.L) { initMap(document.getElementById("map"), points); }
  });
})();
