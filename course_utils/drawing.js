// The browser half of widgets.drawing_explorer (an anywidget module). The student draws on a canvas; the
// strokes go to Python (the `strokes` and `request` traits), which reduces them to MNIST's 28x28, runs
// the network and sends back the `view`: the picture, the probabilities, every stage's feature maps
// (as 0..255 levels) and the saliency. Clicking a feature map sets `selected`; Python answers with an
// `explanation` (a figure and its text). While a request is on its way, new strokes wait for its answer,
// so the view follows the pen without a queue building up.

const INFERNO = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];

function heat(level) {  // 0..1 to an inferno-like colour
  const x = Math.min(Math.max(level, 0), 1) * (INFERNO.length - 1);
  const i = Math.min(Math.floor(x), INFERNO.length - 2), f = x - i;
  return INFERNO[i].map((a, k) => Math.round(a + f * (INFERNO[i + 1][k] - a)));
}

function element(tag, attributes = {}, text = "") {
  const e = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) e.setAttribute(name, value);
  if (text) e.textContent = text;
  return e;
}

function paint(canvas, height, width, levels, colour) {  // levels: height*width numbers for `colour`
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  for (let p = 0; p < height * width; p++) {
    const [r, g, b] = colour(levels[p]);
    image.data.set([r, g, b, 255], 4 * p);
  }
  context.putImageData(image, 0, 0);
}

function render({ model, el }) {
  const side = model.get("canvas"), pen = model.get("pen");
  const root = element("div", {class: "course-drawing", "data-lm-suppress-shortcuts": "true"});
  // data-lm-suppress-shortcuts: keys pressed inside the widget are the widget's, not JupyterLab's commands

  // --- the drawing and its controls
  const left = element("div", {class: "course-drawing-left"});
  const pad = element("canvas", {class: "course-drawing-pad", width: side, height: side, role: "img",
    "aria-label": "Drawing area: draw one digit with the mouse, a pen or a finger"});
  const controls = element("div", {class: "course-drawing-controls"});
  const clear = element("button", {type: "button"}, "Clear");
  const sampleLabel = element("label", {}, "Sample digit ");
  const sample = element("select", {"aria-label": "Sample digit"});
  sample.append(element("option", {value: "-1"}, "choose one"));
  model.get("samples").forEach((name, k) => sample.append(element("option", {value: String(k)}, name)));
  sampleLabel.append(sample);
  const overlayLabel = element("label", {});
  const overlay = element("input", {type: "checkbox"});
  overlay.checked = true;
  overlayLabel.append(overlay, " saliency on the input");
  controls.append(clear, sampleLabel, overlayLabel);
  const says = element("div", {class: "course-drawing-says"});  // one line across the top: what the network says
  const status = element("p", {class: "course-drawing-status", role: "status", "aria-live": "polite"});
  const timing = element("p", {class: "course-drawing-timing"});
  says.append(status, timing);
  left.append(pad, controls);

  // --- what the network sees, and what it says
  const middle = element("div", {class: "course-drawing-middle"});
  const seenCaption = element("p", {class: "course-drawing-caption"}, "What the network sees (28x28)");
  const seen = element("canvas", {class: "course-drawing-seen", role: "img", "aria-label": "The network's input"});
  const bars = element("div", {class: "course-drawing-bars", role: "list", "aria-label": "Class probabilities"});
  middle.append(seenCaption, seen, bars);
  const top = element("div", {class: "course-drawing-top"});
  top.append(left, middle);

  // --- the feature maps, and one number explained
  const stages = element("div", {class: "course-drawing-stages"});
  const explained = element("div", {class: "course-drawing-explained"});
  root.append(says, top, stages, explained);
  el.append(root);

  const ink = pad.getContext("2d");
  let strokes = [], drawing = false, sent = 0, waiting = false, pending = false, started = 0, times = [];
  let field = null;

  function blank() {
    ink.fillStyle = "white";
    ink.fillRect(0, 0, side, side);
  }
  blank();
  root.dataset.waiting = "0";

  function send() {
    if (waiting) { pending = true; return; }
    waiting = true;
    root.dataset.waiting = "1";  // read by the browser tests: "0" once the answer to the last drawing is shown
    pending = false;
    started = performance.now();
    sent += 1;
    model.set("strokes", strokes.map(stroke => stroke.map(([x, y]) => [Math.round(x * 10) / 10, Math.round(y * 10) / 10])));
    model.set("request", sent);
    model.save_changes();
  }

  function where(event) {
    const box = pad.getBoundingClientRect();
    return [(event.clientX - box.left) * side / box.width, (event.clientY - box.top) * side / box.height];
  }

  function dot([x, y]) {
    ink.fillStyle = "black";
    ink.beginPath();
    ink.arc(x, y, pen / 2, 0, 2 * Math.PI);
    ink.fill();
  }

  pad.addEventListener("pointerdown", event => {
    event.preventDefault();
    if (model.get("view").source === "sample") {  // drawing anew over a sample digit: the sample goes
      strokes = [];
      blank();
      sample.value = "-1";
      model.set("sample", -1);
    }
    pad.setPointerCapture(event.pointerId);
    drawing = true;
    strokes.push([where(event)]);
    dot(where(event));
    send();
  });
  pad.addEventListener("pointermove", event => {
    if (!drawing) return;
    const stroke = strokes[strokes.length - 1], [x0, y0] = stroke[stroke.length - 1], [x, y] = where(event);
    stroke.push([x, y]);
    ink.strokeStyle = "black";
    ink.lineWidth = pen;
    ink.lineCap = "round";
    ink.beginPath();
    ink.moveTo(x0, y0);
    ink.lineTo(x, y);
    ink.stroke();
    send();
  });
  const stop = () => { if (drawing) { drawing = false; send(); } };
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  clear.addEventListener("click", () => {
    strokes = [];
    blank();
    sample.value = "-1";
    model.set("sample", -1);  // so that the same sample can be chosen again
    send();
  });
  sample.addEventListener("change", () => {
    strokes = [];
    model.set("sample", Number(sample.value));
    model.save_changes();
  });
  overlay.addEventListener("change", () => showSeen(model.get("view")));

  function showSeen(view) {
    const size = view.side || 28, picture = view.picture || [], saliency = view.saliency || [];
    const on = overlay.checked && saliency.length;
    if (seen.width !== size) { seen.width = size; seen.height = size; }
    const context = seen.getContext("2d"), image = context.createImageData(size, size);
    for (let p = 0; p < size * size; p++) {
      const grey = Math.round(255 * (picture[p] || 0));
      let rgb = [grey, grey, grey];
      if (on && saliency[p] > 0.15) {  // the heat of the saliency over the grey digit, where it is strong
        const h = heat(saliency[p]), a = 0.75;
        rgb = rgb.map((c, k) => Math.round((1 - a) * c + a * h[k]));
      }
      image.data.set([...rgb, 255], 4 * p);
    }
    context.putImageData(image, 0, 0);
    if (field) {
      const [t, b, l, r] = field;
      context.strokeStyle = "#1b9e77";
      context.lineWidth = 1;
      context.strokeRect(l + 0.5, t + 0.5, r - l, b - t);
    }
    seen.setAttribute("aria-label", `The network's input${on ? ", with the saliency in colour" : ""}`);
  }

  function showBars(view) {
    bars.replaceChildren();
    (view.probabilities || []).forEach((p, k) => {
      const row = element("div", {class: "course-drawing-bar" + (k === view.predicted ? " predicted" : ""), role: "listitem"});
      const name = element("span", {class: "course-drawing-bar-name"}, view.classes[k]);
      const track = element("span", {class: "course-drawing-bar-track"});
      const fill = element("span", {class: "course-drawing-bar-fill"});
      fill.style.width = `${(100 * p).toFixed(1)}%`;
      track.append(fill);
      const value = element("span", {class: "course-drawing-bar-value"}, `${(100 * p).toFixed(0)}%`);
      row.append(name, track, value);
      bars.append(row);
    });
  }

  let built = "";  // the stages' layout the map canvases were made for: made once, then only repainted

  function buildStages(view) {
    stages.replaceChildren();
    for (const stage of view.stages || []) {
      const figure = element("figure", {class: "course-drawing-stage"});
      figure.append(element("figcaption", {"data-stage": stage.name, title: stage.title || ""}, stage.caption));
      const row = element("div", {class: "course-drawing-maps"});
      for (let c = 0; c < stage.channels; c++) {
        const map = element("canvas", {class: "course-drawing-map", "data-stage": stage.name, "data-channel": String(c),
          role: "img", "aria-label": `${stage.name} map ${c + 1} of ${stage.channels}; click a pixel to explain its number`});
        map.style.width = `${stage.display}px`;
        map.style.height = `${Math.round(stage.display * stage.height / stage.width)}px`;
        map.addEventListener("click", event => {
          const box = map.getBoundingClientRect();
          const col = Math.min(stage.width - 1, Math.floor((event.clientX - box.left) * stage.width / box.width));
          const row_ = Math.min(stage.height - 1, Math.floor((event.clientY - box.top) * stage.height / box.height));
          model.set("selected", {stage: stage.name, channel: c, row: row_, col: col});
          model.save_changes();
        });
        row.append(map);
      }
      figure.append(row);
      stages.append(figure);
    }
  }

  function showStages(view) {
    const layout = (view.stages || []).map(s => `${s.name}:${s.channels}:${s.height}:${s.width}`).join(",");
    if (layout !== built) { buildStages(view); built = layout; }
    const chosen = model.get("selected");
    for (const stage of view.stages || []) {
      stages.querySelector(`figcaption[data-stage="${stage.name}"]`).textContent = stage.caption;
      const area = stage.height * stage.width;
      stages.querySelectorAll(`canvas[data-stage="${stage.name}"]`).forEach((map, c) => {
        const levels = stage.data.slice(c * area, (c + 1) * area);
        paint(map, stage.height, stage.width, levels, v => [v, v, v]);
        const here = chosen.stage === stage.name && chosen.channel === c;
        if (here) {
          const context = map.getContext("2d");
          context.fillStyle = "#1b9e77";
          context.fillRect(chosen.col, chosen.row, 1, 1);
        }
        map.classList.toggle("chosen", here);
      });
    }
  }

  function showView() {
    const view = model.get("view");
    if (view.source === "sample" && view.picture) {  // the sample digit on the drawing area, ink dark
      const size = view.side;
      const small = document.createElement("canvas");
      paint(small, size, size, view.picture, v => { const g = Math.round(255 * (1 - v)); return [g, g, g]; });
      ink.imageSmoothingEnabled = false;
      ink.drawImage(small, 0, 0, side, side);
    }
    field = null;  // a new view: the explanation of the last one (and its outline) is gone
    if (!(view.stages || []).length) { stages.replaceChildren(); built = ""; }
    showSeen(view);
    showBars(view);
    showStages(view);
    status.textContent = view.message || "";
    root.dataset.predicted = view.predicted === undefined ? "" : view.classes[view.predicted];
    if (waiting && view.request === sent) {
      const arrived = performance.now() - started;
      requestAnimationFrame(() => {  // measured once the new view has been drawn on the screen
        const ms = performance.now() - started;
        root.dataset.arrived = `${root.dataset.arrived ? root.dataset.arrived + "," : ""}${Math.round(arrived)}`;
        if (view.python_ms !== undefined) root.dataset.python = `${root.dataset.python ? root.dataset.python + "," : ""}${view.python_ms}`;
        times.push(Math.round(ms));
        root.dataset.times = times.slice(-200).join(",");
        timing.textContent = `updated ${Math.round(ms)} ms after the stroke`;
        waiting = false;
        root.dataset.waiting = "0";
        if (pending) send();
      });
    }
  }

  function showExplanation() {
    const e = model.get("explanation");
    explained.replaceChildren();
    field = e.field || null;
    if (e.png) {
      explained.append(element("img", {src: `data:image/png;base64,${e.png}`, alt: e.text, class: "course-drawing-explanation"}));
    } else if (e.text) {
      explained.append(element("p", {}, e.text));
    }
    showSeen(model.get("view"));
    showStages(model.get("view"));
  }

  model.on("change:view", showView);
  model.on("change:explanation", showExplanation);
  showView();
  showExplanation();
  return () => { model.off("change:view", showView); model.off("change:explanation", showExplanation); };
}

export default { render };
