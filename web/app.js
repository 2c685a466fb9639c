// The live preview: each frame of the webcam, a video or a photo goes through MediaPipe's ImageSegmenter
// and is drawn over a blurred, coloured or pictured background. engine/serve.py serves this page.
import { FilesetResolver, ImageSegmenter } from "./tasks-vision/vision_bundle.mjs";

const element = (id) => document.getElementById(id);
const output = element("output");
const outputContext = output.getContext("2d");
const frameCanvas = document.createElement("canvas"); // the frame exactly as it was segmented
const frameContext = frameCanvas.getContext("2d", { willReadFrequently: true });
const maskCanvas = document.createElement("canvas"); // white, with the person probability as alpha
const maskContext = maskCanvas.getContext("2d");
const personCanvas = document.createElement("canvas"); // the frame where the mask is
const personContext = personCanvas.getContext("2d");
const BLUR_PER_WIDTH = 40; // the background blur's radius: the width / this
const FPS_WINDOW_MS = 1000;

const state = {
  segmenter: null,
  model: "", // its file name
  channels: 3, // 4: RGB + the previous frame's person probability
  prior: null,
  delegate: new URLSearchParams(location.search).get("delegate") === "GPU" ? "GPU" : "CPU",
  source: null, // the <video> or ImageBitmap on screen
  sourceName: "", // "webcam" or the file's name
  stream: null, // the webcam's, stopped when another source is chosen
  picture: null,
  timestamp: 0,
  frames: 0, // segmented since the page opened
  recent: [], // { end, ms }: when each frame of the last FPS_WINDOW_MS was done, and its segmentation's time
  last: null, // the latest frame, its person probability and category mask (window.preview reads them)
};

const setStatus = (text) => { element("status").textContent = text; };
// An error in one line: MediaPipe's carry a trace of its C++ sources after the message.
const describe = (error) => String(error?.message ?? error).split(/\s*=== Source Location Trace/)[0];

// The model's input channels, from the .tflite flatbuffer (TFLite's schema.fbs):
// Model.subgraphs[0] -> SubGraph.inputs[0] -> SubGraph.tensors[that] -> Tensor.shape, last entry.
function inputChannels(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const follow = (at) => at + view.getUint32(at, true);
  const field = (table, index) => {
    const vtable = table - view.getInt32(table, true);
    const slot = 4 + 2 * index;
    return slot < view.getUint16(vtable, true) ? table + view.getUint16(vtable + slot, true) : null;
  };
  const item = (vectorField, index) => follow(vectorField) + 4 + 4 * index;
  const subgraph = follow(item(field(follow(0), 2), 0));
  const input = view.getInt32(item(field(subgraph, 1), 0), true);
  const shape = follow(field(follow(item(field(subgraph, 0), input)), 0));
  return view.getInt32(shape + 4 * view.getUint32(shape, true), true);
}

async function loadModel(fileset, bytes, name) {
  setStatus(`loading ${name}`);
  try {
    const segmenter = await ImageSegmenter.createFromOptions(fileset, {
      baseOptions: { modelAssetBuffer: bytes, delegate: state.delegate },
      runningMode: "VIDEO",
      outputConfidenceMasks: true,
      outputCategoryMask: true,
    });
    state.segmenter?.close();
    state.segmenter = segmenter;
    state.model = name;
    state.channels = inputChannels(bytes);
    state.prior = null;
    const prior = state.channels === 4 ? ", previous frame's mask fed back" : "";
    element("model-name").textContent = `${name} (${state.delegate}${prior})`;
    setStatus("running");
    if (state.source instanceof ImageBitmap) processFrame(state.source);
  } catch (error) {
    setStatus(`${name} did not load (the previous model stays): ${describe(error)}`);
  }
}

function nextTimestamp() { // VIDEO mode needs increasing timestamps
  state.timestamp = Math.max(performance.now(), state.timestamp + 1);
  return state.timestamp;
}

function resize(canvas, width, height) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
}

function processFrame(source) {
  const width = source.videoWidth ?? source.width;
  const height = source.videoHeight ?? source.height;
  if (!width || !state.segmenter) return;
  for (const canvas of [frameCanvas, maskCanvas, personCanvas, output]) resize(canvas, width, height);
  frameContext.drawImage(source, 0, 0, width, height);
  const frame = frameContext.getImageData(0, 0, width, height);
  if (state.channels === 4) feedPrior(frame);
  const start = performance.now();
  state.segmenter.segmentForVideo(frame, nextTimestamp(), (result) => {
    const masks = result.confidenceMasks;
    const person = masks[masks.length - 1].getAsFloat32Array(); // a one-mask model's only mask is the person
    const alpha = new ImageData(width, height);
    const pixels = new Uint32Array(alpha.data.buffer); // RGBA bytes, little-endian
    for (let i = 0; i < person.length; i++) pixels[i] = (Math.round(255 * person[i]) << 24) | 0xffffff;
    maskContext.putImageData(alpha, 0, 0);
    const category = result.categoryMask.getAsUint8Array().slice();
    state.last = { frame, person: person.slice(), category, model: state.model, source: state.sourceName };
    state.prior = state.last.person;
  });
  const end = performance.now();
  state.frames += 1;
  state.recent = state.recent.filter((frame) => frame.end > end - FPS_WINDOW_MS).concat({ end, ms: end - start });
  const meanMs = state.recent.reduce((sum, frame) => sum + frame.ms, 0) / state.recent.length;
  element("fps").textContent = `${fps().toFixed(1)} FPS · segmentation ${meanMs.toFixed(1)} ms`;
  composite();
}

// A 4-channel model reads the image's alpha as its fourth channel (MediaPipe's web ImageSegmenter passes
// RGBA through): there goes the previous frame's person probability, or zeros for a first frame.
function feedPrior(frame) {
  const prior = state.prior?.length === frame.width * frame.height ? state.prior : null;
  for (let i = 0; i < frame.width * frame.height; i++) frame.data[4 * i + 3] = prior ? 255 * prior[i] : 0;
}

function fps() {
  const recent = state.recent;
  return recent.length < 2 ? 0 : (1000 * (recent.length - 1)) / (recent[recent.length - 1].end - recent[0].end);
}

function drawCover(context, image) {
  const { width, height } = context.canvas;
  const scale = Math.max(width / image.width, height / image.height);
  const w = image.width * scale, h = image.height * scale;
  context.drawImage(image, (width - w) / 2, (height - h) / 2, w, h);
}

function composite() {
  const { width, height } = output;
  if (!state.last) return;
  if (element("show-mask").checked) {
    outputContext.fillStyle = "#000";
    outputContext.fillRect(0, 0, width, height);
    outputContext.drawImage(maskCanvas, 0, 0);
    return;
  }
  const background = element("background").value;
  if (background === "colour") {
    outputContext.fillStyle = element("colour").value;
    outputContext.fillRect(0, 0, width, height);
  } else if (background === "picture" && state.picture) {
    drawCover(outputContext, state.picture);
  } else {
    const radius = Math.ceil(width / BLUR_PER_WIDTH);
    outputContext.filter = `blur(${radius}px)`;
    outputContext.drawImage(frameCanvas, -2 * radius, -2 * radius, width + 4 * radius, height + 4 * radius);
    outputContext.filter = "none";
  }
  personContext.globalCompositeOperation = "copy";
  personContext.drawImage(maskCanvas, 0, 0);
  personContext.globalCompositeOperation = "source-in";
  personContext.drawImage(frameCanvas, 0, 0);
  outputContext.drawImage(personCanvas, 0, 0);
}

function show(source, name) {
  if (state.source instanceof HTMLVideoElement) state.source.pause();
  state.stream?.getTracks().forEach((track) => track.stop());
  state.stream = null;
  state.source = source;
  state.sourceName = name;
  element("source-name").textContent = name;
  if (state.segmenter) setStatus("running");
  state.last = null;
  state.prior = null;
  if (source instanceof ImageBitmap) {
    processFrame(source);
    return;
  }
  const onFrame = () => {
    if (state.source !== source) return;
    try {
      processFrame(source);
    } catch (error) {
      setStatus(`segmentation failed: ${describe(error)}`);
    }
    source.requestVideoFrameCallback(onFrame);
  };
  source.requestVideoFrameCallback(onFrame);
}

function videoElement() {
  const video = document.createElement("video");
  video.muted = true;
  video.loop = true;
  video.playsInline = true;
  return video;
}

async function startCamera() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    const video = videoElement();
    video.srcObject = stream;
    await video.play();
    show(video, "webcam");
    state.stream = stream;
  } catch (error) {
    setStatus(`no webcam (${describe(error)}): choose a video or photo file`);
  }
}

async function openMedia(file) {
  try {
    if (file.type.startsWith("image/")) {
      show(await createImageBitmap(file), file.name);
      return;
    }
    const video = videoElement();
    video.src = URL.createObjectURL(file);
    await video.play();
    show(video, file.name);
  } catch (error) {
    setStatus(`${file.name} cannot be shown: ${describe(error)}`);
  }
}

async function openFile(fileset, file) {
  if (file.name.toLowerCase().endsWith(".tflite")) {
    await loadModel(fileset, new Uint8Array(await file.arrayBuffer()), file.name);
  } else if (file.type.startsWith("image/") || file.type.startsWith("video/")) {
    await openMedia(file);
  } else {
    setStatus(`${file.name}: not a .tflite model, a video or a photo`);
  }
}

function base64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

// For tests/test_web.py: how far the page got, the latest frame with its masks, and what is on screen.
window.preview = {
  get status() { return element("status").textContent; },
  get fps() { return fps(); },
  get frames() { return state.frames; },
  lastFrame() {
    const last = state.last;
    return last && {
      width: last.frame.width,
      height: last.frame.height,
      rgba: base64(new Uint8Array(last.frame.data.buffer)),
      person: base64(new Uint8Array(last.person.buffer)),
      category: base64(last.category),
      model: last.model,
      source: last.source,
      output: base64(new Uint8Array(outputContext.getImageData(0, 0, output.width, output.height).data.buffer)),
    };
  },
};

async function main() {
  const fileset = await FilesetResolver.forVisionTasks("tasks-vision/wasm");
  const config = await (await fetch("config.json")).json();
  const response = await fetch(config.model);
  await loadModel(fileset, new Uint8Array(await response.arrayBuffer()), config.model.split("/").pop());
  element("camera").onclick = startCamera;
  element("media").onchange = (event) => event.target.files[0] && openMedia(event.target.files[0]);
  element("model").onchange = (event) => event.target.files[0] && openFile(fileset, event.target.files[0]);
  element("picture").onchange = async (event) => {
    state.picture = await createImageBitmap(event.target.files[0]);
    element("background").value = "picture";
    composite();
  };
  for (const id of ["background", "colour", "show-mask"]) element(id).oninput = composite;
  document.ondragover = (event) => { event.preventDefault(); document.body.classList.add("dragging"); };
  document.ondragleave = () => document.body.classList.remove("dragging");
  document.ondrop = (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    for (const file of event.dataTransfer.files) openFile(fileset, file);
  };
  await startCamera();
}

main().catch((error) => setStatus(`error: ${describe(error)}`));
