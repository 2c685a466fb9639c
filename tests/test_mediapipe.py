"""Our exports in MediaPipe Tasks' own ImageSegmenter: it reads their metadata and gives our masks.

MediaPipe is optional (requirements-mediapipe.txt; .ci/run installs it): without it only the checks
made by our own reader (convert/metadata.py's check_metadata) run.
"""
import glob
import os
import re

import keras
import numpy as np
import pytest

import models
from convert import metadata, tflite
from convert.sidecar import describe, output_kind, write_sidecar
from data.dataset import resize_image
from data.synthetic import portrait
from data.images import read_image
from engine.segmenter import Segmenter
from models.checkpoint import make_spec
from models.predictors import LiteRTModel, foreground
from tests.conftest import REPO
from utils import UserError

SHIPPED = ("initial.tflite", "initial_android.tflite")
EG1800_TESTING = os.path.join(REPO, "..", "shared", "datasets", "eg1800", "testing")
SELFIE_SEGMENTER = os.path.join(REPO, "..", "shared", "peers", "models", "kop12", "selfie_segmenter.tflite")
PHOTOS = 16
MIN_IOU = 0.99
# At the photo's size MediaPipe resamples as we do not: it shrinks the photo with an affine warp that
# samples from the top-left pixel without antialiasing (we resize antialiased, pixel-centred), and
# upsamples the category mask corner-aligned; the outlines move by about a photo pixel.
MIN_IOU_AT_PHOTO_SIZE = 0.98
SIZE = 64  # for the fresh networks built here


def shipped(name):
    return os.path.join(REPO, "trained_models", name)


@pytest.fixture(scope="module")
def vision():
    return pytest.importorskip("mediapipe.tasks.python.vision")


def segmenter(vision, path=None, content=None):
    from mediapipe.tasks.python import BaseOptions
    options = vision.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=path, model_asset_buffer=content),
                                           output_category_mask=True, output_confidence_masks=True)
    return vision.ImageSegmenter.create_from_options(options)


def segmented(seg, image):
    """MediaPipe's category mask and confidence masks (channels last) for uint8 RGB ``image``."""
    import mediapipe as mp
    result = seg.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))
    return (result.category_mask.numpy_view()[..., 0].copy(),
            np.stack([mask.numpy_view()[..., 0] for mask in result.confidence_masks], -1))


def photos():
    """Up to PHOTOS eg1800 test photos as uint8 RGB arrays (tests using them are marked shared_data)."""
    return [read_image(path) for path in sorted(glob.glob(os.path.join(EG1800_TESTING, "*.jpg")))[:PHOTOS]]


def iou(masks, others):
    """IoU of two lists of boolean masks, pooled over the masks."""
    both = sum(np.logical_and(a, b).sum() for a, b in zip(masks, others))
    either = sum(np.logical_or(a, b).sum() for a, b in zip(masks, others))
    return 1.0 if either == 0 else float(both / either)


def agreement(vision, path, images):
    """IoU of MediaPipe's person masks (category, confidence) with ours (--infer_single_img, no refinement)."""
    ours_alpha = Segmenter(path, refine="none")
    ours = [ours_alpha(image) >= 0.5 for image in images]
    with segmenter(vision, path) as seg:
        theirs = [segmented(seg, image) for image in images]
    return iou([category == 1 for category, _ in theirs], ours), iou([conf[..., 1] >= 0.5 for _, conf in theirs], ours)


def at_input_size(image, size):
    """``image`` resized to the model's input by our own preprocessing, so MediaPipe does not resample it."""
    return np.clip(np.round(resize_image(image[None].astype(np.float32), size).numpy()[0]), 0, 255).astype(np.uint8)


def filled(table, prefix=""):
    """The paths of the fields a metadata object (MediaPipe's generated ``...T`` classes) sets."""
    paths = set()
    for name, value in vars(table).items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item is not None:
                paths.add(prefix + name)
            if hasattr(item, "__dict__"):
                paths |= filled(item, f"{prefix}{name}.")
    return paths


def parsed(path):
    from mediapipe.tasks.metadata import metadata_schema_py_generated as schema
    with open(path, "rb") as f:
        return schema.ModelMetadataT.InitFromObj(schema.ModelMetadata.GetRootAs(metadata.metadata_buffer(f.read()), 0))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_exports_carry_metadata(name):
    metadata.check_metadata(shipped(name), "trained_models")


@pytest.mark.parametrize("name, activation", [("initial.tflite", 0), ("initial_android.tflite", 2)])
def test_mediapipe_reads_the_shipped_metadata(vision, name, activation):
    from mediapipe.tasks.metadata import image_segmenter_metadata_schema_py_generated as segmenter_schema
    with segmenter(vision, shipped(name)) as seg:
        assert seg.labels == ["background", "person"]
    found = parsed(shipped(name))
    image, mask = found.subgraphMetadata[0].inputTensorMetadata[0], found.subgraphMetadata[0].outputTensorMetadata[0]
    normalization = image.processUnits[0].options
    assert list(normalization.mean) == [0.0] and list(normalization.std) == [255.0]
    assert image.content.contentProperties.colorSpace == metadata.RGB
    assert mask.associatedFiles[0].name == b"labels.txt" and mask.associatedFiles[0].type == metadata.TENSOR_AXIS_LABELS
    assert found.name and found.version and found.description and found.license and found.minParserVersion == b"1.5.0"
    options = segmenter_schema.ImageSegmenterOptions.GetRootAs(bytes(found.subgraphMetadata[0].customMetadata[0].data))
    assert options.Activation() == activation


@pytest.mark.shared_data("peers", "models", "kop12", "selfie_segmenter.tflite")
def test_metadata_fills_every_field_that_mediapipes_selfie_segmenter_fills(vision):
    assert filled(parsed(SELFIE_SEGMENTER)) <= filled(parsed(shipped("initial_android.tflite")))


@pytest.mark.shared_data("datasets", "eg1800", "testing")
@pytest.mark.parametrize("name", SHIPPED)
def test_mediapipe_masks_match_ours_at_the_models_input_size(vision, name):
    size = LiteRTModel(shipped(name)).input["shape"][1]
    category, confidence = agreement(vision, shipped(name), [at_input_size(image, size) for image in photos()])
    assert category >= MIN_IOU and confidence >= MIN_IOU


@pytest.mark.shared_data("datasets", "eg1800", "testing")
@pytest.mark.parametrize("name", SHIPPED)
def test_mediapipe_masks_match_ours_at_the_photos_size(vision, name):
    category, confidence = agreement(vision, shipped(name), photos())
    assert category >= MIN_IOU_AT_PHOTO_SIZE and confidence >= MIN_IOU_AT_PHOTO_SIZE


@pytest.mark.parametrize("network", ["lightnet", "mattingnet"])
@pytest.mark.parametrize("with_activation", [True, False])
def test_every_output_kind_reads_in_mediapipe_as_ours(vision, network, with_activation):
    static = tflite.static_copy(models.create(network, SIZE), make_spec(network, SIZE), SIZE)
    model = tflite.two_sigmoids(static) if with_activation else tflite.without_softmax(static)
    kind = output_kind(static.output_shape[-1], with_activation)
    content = metadata.attach(tflite.to_tflite(model), metadata.describe(SIZE, kind, "float32", "w.h5",
                                                                          make_spec(network, SIZE)))
    image = portrait(np.random.default_rng(1), SIZE, SIZE)[0]
    ours = foreground(LiteRTModel(model_content=content)(image[None] / np.float32(255)), kind)[0]
    with segmenter(vision, content=content) as seg:
        category, confidence = segmented(seg, image)
        assert seg.labels == metadata.labels(kind)
    np.testing.assert_allclose(confidence[..., -1], ours, atol=1e-5)
    person = 1 if len(metadata.labels(kind)) == 2 else 0  # MediaPipe marks a single mask's person 0, the rest 255
    decided = np.abs(ours - 0.5) > 1e-3
    np.testing.assert_array_equal((category == person)[decided], (ours > 0.5)[decided])


@pytest.fixture(scope="module")
def plain_content():
    x = keras.Input((SIZE, SIZE, 3), batch_size=1)
    return tflite.to_tflite(keras.Model(x, keras.layers.Conv2D(2, 1)(x)))


@pytest.fixture(scope="module")
def good():
    """The metadata ``convert`` writes into the file that ``exported``'s sidecar describes."""
    return metadata.describe(SIZE, "logits", "float32", "w.h5", make_spec("lightnet", SIZE))


def exported(folder, content):
    """``content`` written as ``folder/p.tflite``, with the sidecar of a lightnet logits file."""
    path = str(folder / "p.tflite")
    with open(path, "wb") as f:
        f.write(content)
    write_sidecar(path, describe(SIZE, 2, "logits", "float32", "w.h5", make_spec("lightnet", SIZE), {}, {}))
    return path


def test_a_file_without_metadata_is_refused(vision, plain_content, tmp_path):
    path = exported(tmp_path, plain_content)
    with pytest.raises(UserError, match="carries no TFLite model metadata"):
        metadata.check_metadata(path, "--mediapipe")
    with pytest.raises(Exception, match="NormalizationOptions"):
        segmenter(vision, path)


def test_metadata_that_is_no_metadata_flatbuffer_is_refused(vision, plain_content, good, tmp_path):
    path = exported(tmp_path, metadata.attach(plain_content, metadata.Metadata(bytes(range(64)), good.files)))
    with pytest.raises(UserError, match="carries no TFLite model metadata"):
        metadata.check_metadata(path, "--mediapipe")
    with pytest.raises(Exception, match="M001"):
        segmenter(vision, path)


@pytest.mark.parametrize("broken", ["truncated", "another_kind"])
def test_metadata_other_than_the_sidecar_describes_is_caught(plain_content, good, tmp_path, broken):
    """MediaPipe parses metadata without verifying it (a truncated one can crash it), so it is not asked."""
    found = {"truncated": metadata.Metadata(good.flatbuffer[:len(good.flatbuffer) // 2], good.files),
             "another_kind": metadata.describe(SIZE, "softmax", "float32", "w.h5", make_spec("lightnet", SIZE))}
    path = exported(tmp_path, metadata.attach(plain_content, found[broken]))
    with pytest.raises(UserError, match="metadata other than its sidecar describes"):
        metadata.check_metadata(path, "--mediapipe")
    metadata.check_metadata(exported(tmp_path, metadata.attach(plain_content, good)), "--mediapipe")


def test_metadata_without_its_labels_file_is_caught(vision, plain_content, good, tmp_path):
    path = exported(tmp_path, metadata.attach(plain_content, metadata.Metadata(good.flatbuffer, {})))
    with segmenter(vision, path) as seg:
        assert seg.labels == []  # MediaPipe runs it, nameless
    with pytest.raises(UserError, match="labels.txt"):
        metadata.check_metadata(path, "--mediapipe")


def test_the_readme_snippet_segments_the_astronaut(vision, monkeypatch):
    with open(os.path.join(REPO, "docs", "EXPORT.md")) as f:
        section = f.read().split("## Use it in an app", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(REPO)
    found = {}
    exec(snippet, found)
    assert found["person"].shape == (512, 512) and 0.25 < found["person"].mean() < 0.75
    assert found["probability"].shape == (512, 512) and found["probability"].max() <= 1.0


def test_mediapipe_resampling_emulation_samples_without_antialiasing_and_grows_corner_aligned():
    from benchmarks.resampling import grow_mediapipe, grow_ours, shrink_mediapipe, shrink_ours
    checker = (np.indices((8, 8)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, -1)
    assert not shrink_mediapipe(checker, 4).any()  # every other pixel, all of them black: nothing averaged
    np.testing.assert_allclose(shrink_ours(checker, 4), 0.5, atol=0.02)  # antialiased: about the grey they average to
    ramp = np.tile(np.arange(4, dtype=np.float32), (4, 1))
    np.testing.assert_allclose(grow_mediapipe(ramp, 7, 7)[0], [0, 0.5, 1, 1.5, 2, 2.5, 3], atol=1e-6)
    np.testing.assert_allclose(grow_ours(ramp, 8, 8)[0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], atol=1e-6)
