"""The browser preview (web/, engine/serve.py): ``--serve``'s errors, and the page in headless Chromium.

``python main.py --serve=True`` serves the page; Chromium's fake camera plays a clip of
docs/images/astronaut.jpg at the model's input size, and the page's masks of its frame are compared with
our Python Segmenter's (``--infer_single_img --refine=none``'s) of the same frame.

The browser tests need Chromium (``apt-get install chromium``), the page's web assets (``npm ci --prefix
web``) and Playwright (requirements-web.txt; it drives the system's Chromium): without one of them they
skip, naming it. .ci/run installs all three.
"""
import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

import cv2
import numpy as np
import pytest

from engine import serve
from tests.conftest import MAIN, REPO, error_lines, run_cli

CHROMIUM = shutil.which("chromium")
TASKS_VISION = os.path.join(REPO, "web", "node_modules", "@mediapipe", "tasks-vision", "vision_bundle.mjs")
PHOTO = os.path.join(REPO, "docs", "images", "astronaut.jpg")
SCREENSHOT = os.path.join(REPO, "outputs", "web_preview.png")  # docs/images/web_preview.png is a copy
MODEL = os.path.join(REPO, "trained_models", "initial.tflite")
ANDROID_MODEL = os.path.join(REPO, "trained_models", "initial_android.tflite")
SIZE = 224  # the shipped models' input side: the clip's frames are that size, so MediaPipe does not resample
CLIP_FRAMES, CLIP_FPS = 5, 30  # the page segments each new frame: FPS up to 30
MIN_IOU = 0.98
WAIT_MS = 60_000
ADDRESS = r"http://127\.0\.0\.1:\d+/"
PRIOR_FRAMES = 30  # frames for a 4-channel model's prior to settle on a still clip
NO_WEB_ASSETS = "the page's web assets are not installed (npm ci --prefix web)"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def missing():
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM:
        return "Chromium is not installed (apt-get install chromium)"
    if not os.path.isfile(TASKS_VISION):
        return NO_WEB_ASSETS
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements-web.txt)"
    return None


def iou(mask, other):
    either = np.logical_or(mask, other).sum()
    return 1.0 if either == 0 else float(np.logical_and(mask, other).sum() / either)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A still y4m clip of the photo at SIZE, and its frame as Chromium shows it: RGB through YUV 4:2:0
    (Chromium's fake camera plays only 4:2:0; its BT.601 conversion and OpenCV's agree within a level)."""
    photo = cv2.resize(cv2.imread(PHOTO), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    yuv = cv2.cvtColor(photo, cv2.COLOR_BGR2YUV_I420)
    path = tmp_path_factory.mktemp("web") / "astronaut.y4m"
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{SIZE} H{SIZE} F{CLIP_FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(CLIP_FRAMES):
            f.write(b"FRAME\n" + yuv.tobytes())
    return str(path), cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)


@contextlib.contextmanager
def served(flags, cwd):
    """``main.py --serve=True`` with ``flags`` on a free port: the address it prints, until the block ends."""
    server = subprocess.Popen([sys.executable, MAIN, "--serve=True", "--port=0", *flags], cwd=cwd, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        found = next(filter(None, (re.search(ADDRESS, line) for line in iter(server.stdout.readline, ""))), None)
        assert found, "main.py --serve=True printed no address"
        yield found.group(0)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def address():
    """``main.py --serve=True`` with the shipped model on a free port; its printed address."""
    with served([f"--weight_dir={MODEL}"], REPO) as address:
        yield address


@pytest.fixture(scope="module")
def browser(clip):
    if missing():
        pytest.skip(missing())
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS + [
            f"--use-file-for-fake-video-capture={clip[0]}"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, address):
    """The page on the fake camera, once it has segmented a frame; every URL it asks for is recorded."""
    page = browser.new_page(viewport={"width": 880, "height": 600})
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.goto(address)
    page.wait_for_function("() => window.preview?.lastFrame()", timeout=WAIT_MS)
    yield page
    page.close()


def last_frame(page):
    """What the page segmented last: the frame (RGBA; alpha: the prior fed to a 4-channel model), its person
    probability and category mask, the output canvas (RGBA) made from them, and the model's and the source's
    names."""
    last = page.evaluate("() => window.preview.lastFrame()")
    shape = last["height"], last["width"]
    decoded = {name: base64.b64decode(last[name]) for name in ("rgba", "person", "category", "output")}
    return dict(rgba=np.frombuffer(decoded["rgba"], np.uint8).reshape(*shape, 4),
                person=np.frombuffer(decoded["person"], np.float32).reshape(shape),
                category=np.frombuffer(decoded["category"], np.uint8).reshape(shape),
                output=np.frombuffer(decoded["output"], np.uint8).reshape(*shape, 4),
                model=last["model"], source=last["source"])


def wait_for_frames(page, count):
    """Until the page has segmented ``count`` more frames."""
    start = page.evaluate("() => window.preview.frames")
    page.wait_for_function(f"() => window.preview.frames >= {start + count}", timeout=WAIT_MS)


def assert_stayed_local(page, address):
    """Nothing but the server was asked for: no CDN, and MediaPipe's usage metrics blocked (the server's CSP)."""
    assert all(url.startswith((address, "data:", "blob:")) for url in page.requested), page.requested


def drop(page, path):
    """Drop the file at ``path`` on the page, as a user dragging it there does."""
    with open(path, "rb") as f:
        content = base64.b64encode(f.read()).decode()
    page.evaluate("""([name, content]) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([Uint8Array.from(atob(content), (c) => c.charCodeAt(0))], name));
        document.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, cancelable: true }));
    }""", [os.path.basename(path), content])


def python_mask(model, frame):
    """``--infer_single_img --refine=none``'s person mask of ``frame``, at the model's input size."""
    from engine.segmenter import Segmenter
    segmenter = Segmenter(model, refine="none")
    assert frame.shape[:2] == (segmenter.size, segmenter.size)
    return segmenter(frame) >= 0.5


def assert_segments_like_python(last, model, known_frame):
    assert last["model"] == os.path.basename(model) and last["source"] == "webcam"
    assert np.abs(last["rgba"][..., :3].astype(int) - known_frame).max() <= 1  # the clip's frame, from the camera
    reference = python_mask(model, known_frame)
    ious = iou(last["category"] == 1, reference), iou(last["person"] >= 0.5, reference)
    print(f"\n{last['model']}: IoU with Python's mask {ious[0]:.4f} (category mask), {ious[1]:.4f} (confidence)")
    assert min(ious) >= MIN_IOU


def test_the_served_page_segments_the_fake_camera_as_python_does(page, address, clip):
    wait_for_frames(page, 3)
    assert_segments_like_python(last_frame(page), MODEL, clip[1])
    assert page.evaluate("() => window.preview.fps") > 0
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    page.screenshot(path=SCREENSHOT, full_page=True)
    print(f"\n{page.inner_text('#info')}; screenshot: {SCREENSHOT}")
    assert_stayed_local(page, address)


def test_the_colour_background_and_the_mask_are_drawn_from_the_person_probability(page):
    page.select_option("#background", "colour")
    wait_for_frames(page, 2)
    last = last_frame(page)
    colour = page.input_value("#colour")
    alpha, shown = np.round(255 * last["person"]), last["output"][..., :3].astype(int)
    background, person = alpha == 0, alpha == 255
    assert background.mean() > 0.1 and person.mean() > 0.1
    assert (shown[background] == [int(colour[i:i + 2], 16) for i in (1, 3, 5)]).all()
    assert np.abs(shown[person] - last["rgba"][..., :3][person]).max() <= 1
    page.check("#show-mask")
    wait_for_frames(page, 2)
    last = last_frame(page)
    assert np.abs(last["output"][..., :3] - np.round(255 * last["person"])[..., None]).max() <= 1


def test_a_dropped_model_replaces_the_served_one_unless_mediapipe_refuses_it(page, address, clip, tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"no flatbuffer")
    drop(page, str(broken))
    page.wait_for_function("() => window.preview.status.startsWith('broken.tflite did not load')", timeout=WAIT_MS)
    assert "\n" not in page.evaluate("() => window.preview.status")
    wait_for_frames(page, 1)
    assert last_frame(page)["model"] == os.path.basename(MODEL)
    drop(page, ANDROID_MODEL)
    page.wait_for_function(f"() => window.preview.lastFrame()?.model === '{os.path.basename(ANDROID_MODEL)}'",
                           timeout=WAIT_MS)
    assert_segments_like_python(last_frame(page), ANDROID_MODEL, clip[1])
    assert_stayed_local(page, address)  # the first model's close sent MediaPipe's metrics


def test_a_chosen_photo_is_segmented_as_python_does(page, clip, tmp_path):
    photo = str(tmp_path / "astronaut.png")  # the camera's frame, at the model's input size
    cv2.imwrite(photo, cv2.cvtColor(clip[1], cv2.COLOR_RGB2BGR))
    page.set_input_files("#media", photo)
    page.wait_for_function("() => window.preview.lastFrame()?.source === 'astronaut.png'", timeout=WAIT_MS)
    last = last_frame(page)
    assert (last["rgba"][..., :3] == clip[1]).all()
    assert iou(last["person"] >= 0.5, python_mask(MODEL, clip[1])) >= MIN_IOU


def four_channel_model(path):
    """A 1x1 convolution over RGB + prior, in a .tflite with our metadata: its person logit leans on the
    prior (3 x prior + 2 x red - 2.5), so the prior it settles on differs from one pixel to the next."""
    import keras

    from convert import metadata, tflite
    from models.checkpoint import make_spec
    x = keras.Input((SIZE, SIZE, 4), batch_size=1)
    conv = keras.layers.Conv2D(2, 1)
    model = keras.Model(x, conv(x))
    kernel = np.zeros((1, 1, 4, 2), np.float32)
    kernel[0, 0, 0, 1], kernel[0, 0, 3, 1] = 2.0, 3.0
    conv.set_weights([kernel, np.array([0.0, -2.5], np.float32)])
    spec = make_spec("lightnet", SIZE, input_channels=4)
    with open(path, "wb") as f:
        f.write(metadata.attach(tflite.to_tflite(model), metadata.describe(SIZE, "logits", "float32", "w.h5", spec)))
    return path


@pytest.mark.slow
def test_a_4_channel_model_gets_the_previous_frames_mask_as_its_prior(page, tmp_path):
    from models.predictors import LiteRTModel, foreground
    model = four_channel_model(str(tmp_path / "prior.tflite"))
    drop(page, model)
    page.wait_for_function("() => window.preview.lastFrame()?.model === 'prior.tflite'", timeout=WAIT_MS)
    wait_for_frames(page, PRIOR_FRAMES)
    last = last_frame(page)
    person, prior = last["person"], last["rgba"][..., 3] / np.float32(255)
    ours = foreground(LiteRTModel(model)(last["rgba"][None] / np.float32(255)), "logits")[0]
    np.testing.assert_allclose(person, ours, atol=1e-4)  # channel 4 is the image's alpha: the prior fed
    assert prior.std() > 0.05  # neither empty nor uniform
    np.testing.assert_allclose(prior, person, atol=3 / 255)  # settled: the prior is the previous frame's mask


def test_serve_names_a_missing_model_in_one_line(tmp_path):
    result = run_cli(["--serve=True", "--weight_dir=missing.tflite"], cwd=tmp_path)
    assert result.returncode == 2
    assert error_lines(result.stderr) == ["main.py: error: --weight_dir: no such file: missing.tflite"]


def test_serve_without_the_web_assets_says_the_install_command(tmp_path, monkeypatch, capsys):
    import main
    monkeypatch.chdir(REPO)  # the command names web/ from the current folder
    monkeypatch.setattr(serve, "TASKS_VISION", str(tmp_path / "absent"))
    assert main.main(["--serve=True", f"--weight_dir={MODEL}"]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].endswith("web assets are not installed (no " + str(tmp_path / "absent")
                                                 + "): run npm ci --prefix web")


@pytest.mark.slow
def test_serve_exports_a_checkpoint_first(tmp_path):
    if not os.path.isfile(TASKS_VISION):
        pytest.skip(NO_WEB_ASSETS)
    weights = os.path.join(REPO, "trained_models", "initial.h5")
    with served([f"--weight_dir={weights}", f"--tflite_name={tmp_path / 'served'}"], tmp_path) as address:
        with urllib.request.urlopen(address + "config.json") as reply:
            assert json.load(reply) == {"model": "models/served.tflite"}
    assert os.path.isfile(tmp_path / "served.tflite") and os.path.isfile(tmp_path / "served.json")
