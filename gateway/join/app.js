// Tessera join page: a person joins a meeting from the browser over WebRTC.
//
// Flow (signalling per /work/notes contract, WHIP-shaped): pick name and devices -> POST the SDP
// offer to /api/v1/join/{tenant}/{conference} (grant from ?grant= as a bearer token) -> apply the
// answer -> follow the session's event stream (lobby, roster, layout, lobby-list) -> report tile
// sizes and mute state -> DELETE to leave. One peer connection: audio sendrecv, video sendonly
// (simulcast q/h/f), nine video recvonly slots that the gateway fills (`layout` says who is in
// which). Plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

(function () {
  const RECV_SLOTS = 9;
  // The simulcast layers the gateway expects (contract): rid and the downscale from 1280x720.
  const LAYERS = [
    { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 200000 },
    { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 600000 },
    { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1800000 },
  ];
  const ICE_GATHER_TIMEOUT_MS = 3000;
  const TILE_REPORT_DELAY_MS = 250;

  // What each refusal `reason` means to a person (the server's `error` sentence is shown after).
  const REFUSALS = {
    "unknown-meeting": "There is no such meeting. Check the link you were sent.",
    "unknown-tenant": "This link names an organisation this gateway does not know. Check the link.",
    "not-started": "The meeting has not started yet. Try again when the organizer has started it.",
    "gateway-full": "The gateway is full right now. Try again in a few minutes.",
    "bad-grant": "Your invitation link has expired or is not valid. Ask the organizer for a new one.",
    "bad-offer": "Your browser's call setup could not be read by the gateway. Try another browser.",
    "no-common-codec": "Your browser and the gateway share no audio or video format. Try another browser.",
    "not-organizer": "Only the organizer can do that.",
    "denied": "You were not let into the meeting.",
    "removed": "You were removed from the meeting.",
  };

  const $ = (id) => document.getElementById(id);
  const path = location.pathname.split("/").filter(Boolean); // ["join", tenant, conference]
  const tenant = decodeURIComponent(path[1] || "");
  const conference = decodeURIComponent(path[2] || "");
  const grant = new URLSearchParams(location.search).get("grant");
  const grantClaims = readGrant(grant);

  const state = {
    preview: null, // MediaStream of the chosen camera and microphone
    pc: null,
    session: null, // "/api/v1/join/sessions/{id}"
    events: null,
    audioMuted: false,
    cameraOff: false,
    videoSender: null,
    audioSender: null,
    slots: new Map(), // mid -> { el, video, stream, participant }
    roster: new Map(), // participant id -> roster entry
    lobby: "none",
    organizer: grantClaims && grantClaims.class === "organizer",
    tileTimer: null,
    lastTiles: "",
  };
  // For diagnostics and the browser tests: the live peer connection and what the page shows.
  window.tessera = state;

  // ---- small helpers ----

  function setView(name) {
    document.body.dataset.view = name;
    for (const v of ["prejoin", "waiting", "meeting", "ended"]) {
      $(v + "-view").hidden = v !== name;
    }
    const focus = { prejoin: "name", waiting: "waiting-leave", meeting: "mute", ended: "rejoin" }[name];
    if (focus && document.activeElement !== $(focus)) $(focus).focus();
  }

  function notice(text, kind) {
    const n = $("notice");
    if (!text) {
      n.hidden = true;
      n.textContent = "";
      return;
    }
    n.textContent = text;
    n.dataset.kind = kind || "error";
    n.dataset.reason = "";
    n.hidden = false;
  }

  // Shows a refusal: the sentence for its reason, then the server's own words.
  function refusal(reason, detail) {
    const base = REFUSALS[reason] || "The gateway refused to let you join.";
    const text = detail && detail !== base ? base + " (" + detail + ")" : base;
    notice(text, "error");
    $("notice").dataset.reason = reason || "unknown";
  }

  function connState(text) {
    $("conn-state").textContent = text;
  }

  // The grant's claims, for showing who the link says you are (the server verifies the signature).
  function readGrant(token) {
    if (!token) return null;
    try {
      const part = token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
    } catch (_) {
      return null;
    }
  }

  function initials(name) {
    return (name || "?").trim().split(/\s+/).slice(0, 2).map((w) => w[0]).join("").toUpperCase();
  }

  // ---- devices and preview ----

  // Opens the preview; calls run one after another, and Join waits for the last one
  // (`state.previewing`): a person (or a test) pressing Join while the camera is still opening,
  // or being reopened for a device change, must join with it, not without any track.
  function openPreview() {
    state.previewing = (state.previewing || Promise.resolve()).then(openPreviewNow, openPreviewNow);
    return state.previewing;
  }

  async function openPreviewNow() {
    const cam = $("camera").value;
    const mic = $("microphone").value;
    stopStream(state.preview);
    state.preview = null;
    const constraints = {
      audio: mic ? { deviceId: { exact: mic } } : true,
      video: $("start-camera-off").checked
        ? false
        : Object.assign({ width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
          cam ? { deviceId: { exact: cam } } : {}),
    };
    try {
      state.preview = await navigator.mediaDevices.getUserMedia(constraints);
    } catch (e) {
      // Try audio alone (no camera, or the camera is refused), then nothing.
      try {
        state.preview = await navigator.mediaDevices.getUserMedia({ audio: constraints.audio });
        notice("Your camera is not available (" + e.name + "). You can still join with audio.", "info");
      } catch (e2) {
        notice("Your camera and microphone are not available (" + e2.name +
          "). You can still join to watch and listen.", "info");
      }
    }
    $("preview").srcObject = state.preview;
    $("preview-off").hidden = !!(state.preview && state.preview.getVideoTracks().length);
    await listDevices();
  }

  async function listDevices() {
    let devices = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch (_) {
      return;
    }
    const fill = (select, kind, current) => {
      const chosen = select.value || (current && current.getSettings().deviceId) || "";
      select.replaceChildren();
      devices.filter((d) => d.kind === kind).forEach((d, i) => {
        const o = document.createElement("option");
        o.value = d.deviceId;
        o.textContent = d.label || (kind === "videoinput" ? "Camera " : "Microphone ") + (i + 1);
        select.append(o);
      });
      if (chosen) select.value = chosen;
      select.disabled = select.options.length === 0;
    };
    const s = state.preview;
    fill($("camera"), "videoinput", s && s.getVideoTracks()[0]);
    fill($("microphone"), "audioinput", s && s.getAudioTracks()[0]);
  }

  function stopStream(stream) {
    if (stream) stream.getTracks().forEach((t) => t.stop());
  }

  // ---- joining ----

  async function join(event) {
    event.preventDefault();
    const name = $("name").value.trim();
    if (!name) {
      $("name").focus();
      return;
    }
    try {
      localStorage.setItem("tessera.name", name);
    } catch (_) { /* private mode: fine */ }
    $("join").disabled = true;
    notice("");
    connState("Connecting…");
    try {
      await connect(name);
    } catch (e) {
      // A session the gateway made but the browser could not use: leave it (no ghost in the
      // lobby or the meeting).
      if (state.session) fetch(state.session, { method: "DELETE" }).catch(() => {});
      teardown();
      connState("");
      if (!$("notice").dataset.reason) {
        notice("Could not join: " + (e && e.message ? e.message : e), "error");
        $("notice").dataset.reason = "network";
      }
      setView("prejoin");
    } finally {
      $("join").disabled = false;
    }
  }

  async function connect(name) {
    await state.previewing;
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    state.pc = pc;
    const audioTrack = state.preview && state.preview.getAudioTracks()[0];
    const videoTrack = state.preview && state.preview.getVideoTracks()[0];
    state.audioMuted = $("start-muted").checked;
    state.cameraOff = !videoTrack;
    if (audioTrack) audioTrack.enabled = !state.audioMuted;

    state.audioSender = pc.addTransceiver(audioTrack || "audio", {
      direction: "sendrecv",
      streams: state.preview ? [state.preview] : [],
    }).sender;
    state.videoSender = addVideoSender(pc, videoTrack);
    for (let i = 0; i < RECV_SLOTS; i++) pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = onTrack;
    pc.onconnectionstatechange = () => {
      const s = pc.connectionState;
      connState({ connected: "Connected", connecting: "Connecting…", disconnected: "Reconnecting…",
        failed: "Connection lost", closed: "" }[s] || s);
      if (s === "failed" && state.session) {
        notice("The connection to the gateway was lost. Join again to reconnect.", "error");
        $("notice").dataset.reason = "connection-failed";
      }
    };

    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const headers = { "Content-Type": "application/sdp" };
    if (grant) headers.Authorization = "Bearer " + grant;
    const url = "/api/v1/join/" + encodeURIComponent(tenant) + "/" + encodeURIComponent(conference) +
      "?name=" + encodeURIComponent(name);
    const answer = await fetch(url, { method: "POST", headers, body: pc.localDescription.sdp });
    if (answer.status !== 201) {
      const body = await answer.json().catch(() => ({}));
      refusal(body.reason || "status-" + answer.status, body.error || answer.statusText);
      throw new Error(body.error || "refused with " + answer.status);
    }
    state.session = answer.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await answer.text() });
    mapSlots(pc);
    $("self-name").textContent = name + " (you)";
    $("self-video").srcObject = videoTrack ? new MediaStream([videoTrack]) : null;
    updateSelf();
    followEvents();
    if (state.audioMuted || state.cameraOff) reportMute();
  }

  // Video sendonly with three simulcast layers; temporal layers (L1T3) where the browser takes
  // them. A camera-off page still offers the transceiver, with no track.
  function addVideoSender(pc, track) {
    const withSvc = LAYERS.map((l) => Object.assign({ scalabilityMode: "L1T3" }, l));
    try {
      return pc.addTransceiver(track || "video", { direction: "sendonly", sendEncodings: withSvc }).sender;
    } catch (_) {
      return pc.addTransceiver(track || "video", { direction: "sendonly", sendEncodings: LAYERS }).sender;
    }
  }

  // Waits until ICE gathering completes (or a bound): the gateway is ICE-lite and reads the
  // candidates from the offer.
  function gathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = () => { if (pc.iceGatheringState === "complete") done(); };
      pc.addEventListener("icegatheringstatechange", check);
      setTimeout(done, ICE_GATHER_TIMEOUT_MS);
    });
  }

  // One tile element per receive slot, keyed by the transceiver's mid.
  function mapSlots(pc) {
    const tiles = $("tiles");
    tiles.replaceChildren();
    state.slots.clear();
    pc.getTransceivers().filter((t) => t.direction === "recvonly").forEach((t) => {
      const el = $("tile-template").content.firstElementChild.cloneNode(true);
      el.dataset.mid = t.mid;
      el.hidden = true;
      const video = el.querySelector("video");
      video.muted = true; // audio comes as the N-1 mix on the audio transceiver
      const stream = new MediaStream([t.receiver.track]);
      video.srcObject = stream;
      tiles.append(el);
      state.slots.set(t.mid, { el, video, stream, participant: null });
      new ResizeObserver(scheduleTileReport).observe(el);
    });
  }

  function onTrack(ev) {
    if (ev.track.kind === "audio") {
      let audio = $("meeting-audio");
      if (!audio) {
        audio = document.createElement("audio");
        audio.id = "meeting-audio";
        audio.autoplay = true;
        document.body.append(audio);
      }
      audio.srcObject = new MediaStream([ev.track]);
    }
  }

  // ---- the event stream ----

  function followEvents() {
    const es = new EventSource(state.session + "/events");
    state.events = es;
    es.addEventListener("lobby", (e) => onLobby(JSON.parse(e.data)));
    // The contract sends `lobby` first; a stream that starts with the meeting itself means in.
    const inUnlessTold = () => { if (state.lobby === "none") onLobby({ state: "admitted" }); };
    es.addEventListener("roster", (e) => { inUnlessTold(); onRoster(JSON.parse(e.data)); });
    es.addEventListener("layout", (e) => { inUnlessTold(); onLayout(JSON.parse(e.data)); });
    es.addEventListener("lobby-list", (e) => { onLobbyList(JSON.parse(e.data)); });
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED && state.session) {
        connState("Lost contact with the gateway");
      }
    };
  }

  function onLobby(ev) {
    state.lobby = ev.state;
    if (ev.state === "waiting") {
      $("waiting-text").textContent = ev.reason ||
        "Someone in the meeting will let you in soon. Keep this page open.";
      setView("waiting");
    } else if (ev.state === "admitted") {
      notice("");
      setView("meeting");
      scheduleTileReport();
    } else {
      // denied or removed: the session is over.
      const reason = ev.state === "denied" ? "denied" : "removed";
      teardown();
      showEnded(ev.state === "denied" ? "You were not let in" : "You were removed from the meeting",
        REFUSALS[reason] + (ev.reason ? " Reason: " + ev.reason : ""));
      refusal(reason, ev.reason);
    }
  }

  function onRoster(ev) {
    state.roster = new Map(ev.participants.map((p) => [p.id, p]));
    const me = ev.participants.find((p) => p.self);
    if (me) $("self-tile").dataset.speaking = String(!!me.speaking);
    // An organizer's roster may carry the lobby list too (same shape as `lobby-list`).
    if (Array.isArray(ev.waiting)) onLobbyList({ waiting: ev.waiting });
    renderTiles();
  }

  function onLayout(ev) {
    for (const s of ev.slots) {
      const slot = state.slots.get(String(s.mid));
      if (slot) slot.participant = s.participant;
    }
    renderTiles();
  }

  // The roster entry of a layout's participant id: roster ids are the admin API's (`p7`), layout
  // ids may be the bare number (`7`).
  function rosterEntry(id) {
    if (!id) return null;
    return state.roster.get(id) || state.roster.get("p" + id) || null;
  }

  function renderTiles() {
    let shown = 0;
    for (const [, slot] of state.slots) {
      const p = rosterEntry(slot.participant);
      const el = slot.el;
      el.hidden = !slot.participant;
      if (!slot.participant) continue;
      shown++;
      const name = p ? p.name : slot.participant;
      el.dataset.participant = slot.participant;
      el.dataset.kind = p ? p.kind : "";
      el.dataset.speaking = String(!!(p && p.speaking));
      el.dataset.muted = String(!!(p && p.muted));
      el.querySelector(".name").textContent = name;
      el.querySelector(".room").hidden = !(p && p.kind === "vtc");
      el.querySelector(".muted").hidden = !(p && p.muted);
      el.querySelector(".card-face").textContent = initials(name);
      el.setAttribute("aria-label", name + (p && p.kind === "vtc" ? " (room system)" : "") +
        (p && p.muted ? ", muted" : "") + (p && p.speaking ? ", speaking" : ""));
      if (slot.video.paused) slot.video.play().catch(() => {});
    }
    const tiles = $("tiles");
    tiles.dataset.count = String(shown);
    tiles.style.setProperty("--cols", String(Math.max(1, Math.ceil(Math.sqrt(shown)))));
    tiles.style.setProperty("--cols-narrow", String(shown > 2 ? 2 : 1));
    $("alone").hidden = shown > 0;
    scheduleTileReport();
  }

  function onLobbyList(ev) {
    const list = $("lobby-list");
    $("lobby-panel").hidden = false;
    list.replaceChildren();
    for (const w of ev.waiting) {
      const li = document.createElement("li");
      li.dataset.participant = w.id;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = w.name + (w.class ? " · " + w.class : "");
      const admit = document.createElement("button");
      admit.type = "button";
      admit.textContent = "Admit";
      admit.setAttribute("aria-label", "Admit " + w.name);
      admit.addEventListener("click", () => lobbyAction(w.id, "admit", admit));
      const deny = document.createElement("button");
      deny.type = "button";
      deny.textContent = "Deny";
      deny.setAttribute("aria-label", "Deny " + w.name);
      deny.addEventListener("click", () => lobbyAction(w.id, "deny", deny));
      li.append(who, admit, deny);
      list.append(li);
    }
    $("lobby-empty").hidden = ev.waiting.length > 0;
  }

  async function lobbyAction(id, action, button) {
    button.disabled = true;
    const r = await fetch(state.session + "/lobby/" + encodeURIComponent(id) + "/" + action, {
      method: "POST",
    }).catch(() => null);
    button.disabled = false;
    if (!r || r.status !== 204) {
      const body = r ? await r.json().catch(() => ({})) : {};
      refusal(body.reason || "network", body.error || "the gateway did not answer");
    }
  }

  // ---- reports to the gateway ----

  // Each filled slot's shown size in device pixels, so the gateway forwards the layer that fits.
  function scheduleTileReport() {
    clearTimeout(state.tileTimer);
    state.tileTimer = setTimeout(reportTiles, TILE_REPORT_DELAY_MS);
  }

  function reportTiles() {
    if (!state.session || state.lobby !== "admitted") return;
    const dpr = window.devicePixelRatio || 1;
    const tiles = [];
    for (const [mid, slot] of state.slots) {
      const r = slot.el.getBoundingClientRect();
      const shown = !slot.el.hidden && r.width > 0;
      tiles.push({ mid, width: shown ? Math.round(r.width * dpr) : 0, height: shown ? Math.round(r.height * dpr) : 0 });
    }
    const body = JSON.stringify({ tiles });
    if (body === state.lastTiles) return;
    state.lastTiles = body;
    fetch(state.session + "/tiles", { method: "POST", headers: { "Content-Type": "application/json" }, body })
      .catch(() => { state.lastTiles = ""; });
  }

  function reportMute() {
    if (!state.session) return;
    fetch(state.session + "/mute", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ audio: state.audioMuted, video: state.cameraOff }),
    }).catch(() => {});
  }

  function updateSelf() {
    $("mute").setAttribute("aria-pressed", String(state.audioMuted));
    $("mute").textContent = state.audioMuted ? "Unmute" : "Mute";
    $("camera-toggle").setAttribute("aria-pressed", String(state.cameraOff));
    $("camera-toggle").textContent = state.cameraOff ? "Camera on" : "Camera off";
    $("self-tile").dataset.video = state.cameraOff ? "off" : "on";
    $("self-state").textContent = state.audioMuted ? "· muted" : "";
  }

  // ---- controls ----

  function toggleMute() {
    state.audioMuted = !state.audioMuted;
    const track = state.audioSender && state.audioSender.track;
    if (track) track.enabled = !state.audioMuted;
    updateSelf();
    reportMute();
  }

  async function toggleCamera() {
    const button = $("camera-toggle");
    button.disabled = true;
    try {
      if (!state.cameraOff) {
        const old = state.videoSender.track;
        await state.videoSender.replaceTrack(null);
        if (old) old.stop();
        state.cameraOff = true;
        $("self-video").srcObject = null;
      } else {
        const cam = $("camera").value;
        const s = await navigator.mediaDevices.getUserMedia({
          video: Object.assign({ width: { ideal: 1280 }, height: { ideal: 720 } },
            cam ? { deviceId: { exact: cam } } : {}),
        });
        const track = s.getVideoTracks()[0];
        await state.videoSender.replaceTrack(track);
        $("self-video").srcObject = new MediaStream([track]);
        state.cameraOff = false;
      }
    } catch (e) {
      notice("Could not turn the camera on (" + e.name + ").", "info");
    } finally {
      button.disabled = false;
    }
    updateSelf();
    reportMute();
  }

  function teardown() {
    if (state.events) state.events.close();
    state.events = null;
    if (state.pc) state.pc.close();
    state.pc = null;
    state.session = null;
    state.lobby = "none";
    state.lastTiles = "";
    $("lobby-panel").hidden = true;
  }

  async function leave() {
    const session = state.session;
    teardown();
    if (session) await fetch(session, { method: "DELETE" }).catch(() => {});
    connState("");
    showEnded("You left the meeting", "");
  }

  function showEnded(title, text) {
    $("ended-title").textContent = title;
    $("ended-text").textContent = text;
    setView("ended");
  }

  function rejoin() {
    notice("");
    setView("prejoin");
    openPreview();
  }

  // ---- start ----

  function start() {
    $("meeting-label").textContent = conference ? "Meeting " + conference : "No meeting in this link";
    document.title = "Tessera · Meeting " + conference;
    if (grantClaims) {
      $("grant-info").hidden = false;
      $("grant-info").textContent = "Your link lets you in as " + grantClaims.class +
        (grantClaims.name ? " (" + grantClaims.name + ")" : "") + ".";
      if (grantClaims.name) $("name").value = grantClaims.name;
    }
    if (!$("name").value) {
      try { $("name").value = localStorage.getItem("tessera.name") || ""; } catch (_) { /* no storage */ }
    }
    $("join-form").addEventListener("submit", join);
    $("camera").addEventListener("change", openPreview);
    $("microphone").addEventListener("change", openPreview);
    $("start-camera-off").addEventListener("change", openPreview);
    $("mute").addEventListener("click", toggleMute);
    $("camera-toggle").addEventListener("click", toggleCamera);
    $("leave").addEventListener("click", leave);
    $("waiting-leave").addEventListener("click", leave);
    $("rejoin").addEventListener("click", rejoin);
    window.addEventListener("resize", scheduleTileReport);
    window.addEventListener("pagehide", () => {
      if (state.session) fetch(state.session, { method: "DELETE", keepalive: true }).catch(() => {});
    });
    // Keyboard shortcuts in the meeting (not while typing).
    document.addEventListener("keydown", (e) => {
      if (document.body.dataset.view !== "meeting" || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.target && /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) return;
      if (e.key === "m" || e.key === "M") { e.preventDefault(); toggleMute(); }
      if (e.key === "v" || e.key === "V") { e.preventDefault(); toggleCamera(); }
    });
    if (!/^\d{4,12}$/.test(tenant) || !/^\d{6,14}$/.test(conference)) {
      refusal("unknown-meeting", "this address is not /join/<tenant key>/<conference ID>");
      $("join").disabled = true;
    }
    setView("prejoin");
    if (!navigator.mediaDevices || !window.RTCPeerConnection) {
      notice("This browser cannot join meetings (no WebRTC). Try a current Chrome, Edge, Firefox or Safari.");
      $("notice").dataset.reason = "no-webrtc";
      $("join").disabled = true;
      return;
    }
    openPreview();
  }

  start();
})();
