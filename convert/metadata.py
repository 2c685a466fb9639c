"""TFLite model metadata in every export, as MediaPipe Tasks' ImageSegmenter reads it.

The layout is that of MediaPipe's own selfie segmenter: the input is an RGB image with
NormalizationOptions, the output a segmentation mask whose channels are named in an associated
``labels.txt`` (zipped after the flatbuffer, as MediaPipe's metadata populator packs it), and the
image segmenter's options (the activation MediaPipe applies to the output) are custom metadata.
The flatbuffers are written here with ``flatbuffers`` itself: MediaPipe's metadata writer needs a
compiled module its wheel lacks, and an export must not need MediaPipe. The model graph is left as
it is; only a buffer and its ``TFLITE_METADATA`` entry are added.
"""
import io
import os
import zipfile
from typing import NamedTuple

import flatbuffers
from ai_edge_litert import schema_py_generated as tflite_schema
from ai_edge_litert.tools.flatbuffer_utils import convert_object_to_bytearray, read_model_from_bytearray

from data.preprocess import CHANNEL_ORDER, INPUT_OFFSET, INPUT_SCALE
from models.predictors import read_sidecar, sidecar_path
from utils import UserError

METADATA_NAME = b"TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
SEGMENTER_METADATA_NAME = "SEGMENTER_METADATA"
SEGMENTER_IDENTIFIER = b"V001"
MIN_PARSER_VERSION = "1.5.0"  # metadata_schema.fbs added CustomMetadata in 1.5.0
LABELS_FILE = "labels.txt"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that an export is the same bytes every time
AUTHOR = "portrait-segmentation"
LICENSE = ("No licence of its own: the weights carry the terms of the data they were trained on (the shipped "
           "initial.h5: EG1800 and CCP, research use; HumanSeg290, none stated) and, with a MobileNet encoder, "
           "of its ImageNet weights (Google, Apache-2.0).")

# Each table's fields in the schema's declaration order (a field's slot is its index); scalars are
# marked with their width. From metadata_schema.fbs 1.5.0 and image_segmenter_metadata_schema.fbs 1.0.0.
FIELDS = {
    "ModelMetadata": "name description version subgraph_metadata author license associated_files min_parser_version",
    "SubGraphMetadata": "name description input_tensor_metadata output_tensor_metadata associated_files "
                        "input_process_units output_process_units input_tensor_groups output_tensor_groups "
                        "custom_metadata",
    "TensorMetadata": "name description dimension_names content process_units stats associated_files",
    "Content": "content_properties_type:byte content_properties range",
    "ImageProperties": "color_space:byte default_size",
    "ValueRange": "min:int max:int",
    "ProcessUnit": "options_type:byte options",
    "NormalizationOptions": "mean std",
    "Stats": "max min",
    "AssociatedFile": "name description type:byte locale version",
    "CustomMetadata": "name data",
    "ImageSegmenterOptions": "activation:byte min_parser_version",
}
IMAGE_PROPERTIES, NORMALIZATION_OPTIONS = 2, 1  # union members: ContentProperties, ProcessUnitOptions
RGB, GRAYSCALE = 1, 2  # ColorSpaceType
TENSOR_AXIS_LABELS = 2  # AssociatedFileType
ACTIVATION = {"softmax": 0, "sigmoid": 0, "logits": 2, "logit": 1}  # what MediaPipe applies: NONE, SOFTMAX, SIGMOID
OUTPUT_DESCRIPTION = {
    "softmax": "Probabilities of background (channel 0) and person (channel 1) per pixel.",
    "logits": "Logits of background (channel 0) and person (channel 1) per pixel; MediaPipe applies softmax "
              "(SEGMENTER_METADATA), giving their probabilities.",
    "sigmoid": "Confidence mask: the person's probability per pixel.",
    "logit": "Confidence mask as the person's logit per pixel; MediaPipe applies sigmoid (SEGMENTER_METADATA), "
             "giving the person's probability.",
}


class Table(NamedTuple):
    kind: str
    fields: dict


class Metadata(NamedTuple):
    """What an export carries: the ModelMetadata flatbuffer and the associated files it names."""
    flatbuffer: bytes
    files: dict


def table(kind, **fields):
    return Table(kind, {name: value for name, value in fields.items() if value is not None})


def encode_vector(builder, items, width, prepend):
    builder.StartVector(width, len(items), width)
    for item in reversed(items):
        prepend(item)
    return builder.EndVector()


def encode(builder, value):
    """Write a string, a byte vector, a vector of floats or tables, or a table; return its offset."""
    if isinstance(value, str):
        return builder.CreateString(value)
    if isinstance(value, bytes):  # CustomMetadata.data, force_align: 16
        builder.StartVector(1, len(value), 16)
        for byte in reversed(value):
            builder.PrependUint8(byte)
        return builder.EndVector()
    if isinstance(value, Table):
        return encode_table(builder, value)
    if all(isinstance(item, float) for item in value):
        return encode_vector(builder, value, 4, builder.PrependFloat32)
    return encode_vector(builder, [encode(builder, item) for item in value], 4, builder.PrependUOffsetTRelative)


def encode_table(builder, value):
    """A table: its strings, vectors and sub-tables first (flatbuffers does not nest them), then its slots."""
    slots = [field.split(":") for field in FIELDS[value.kind].split()]
    names = [slot[0] for slot in slots]
    scalars = {slot[0]: slot[1] for slot in slots if len(slot) == 2}
    offsets = {name: encode(builder, v) for name, v in value.fields.items() if name not in scalars}
    builder.StartObject(len(slots))
    for name, v in value.fields.items():
        slot = names.index(name)
        if scalars.get(name) == "byte":
            builder.PrependUint8Slot(slot, v, 0)
        elif scalars.get(name) == "int":
            builder.PrependInt32Slot(slot, v, 0)
        else:
            builder.PrependUOffsetTRelativeSlot(slot, offsets[name], 0)
    return builder.EndObject()


def finished(root, identifier):
    builder = flatbuffers.Builder(1024)
    builder.Finish(encode_table(builder, root), file_identifier=identifier)
    return bytes(builder.Output())


def labels(kind):
    return ["person"] if kind in ("sigmoid", "logit") else ["background", "person"]


def input_metadata(size, channels=3):
    """The input as an RGB image; MediaPipe feeds (pixel - mean) / std, our x = pixel * scale + offset. A
    4-channel (video) model's description says what channel 4 is: MediaPipe Tasks cannot feed it."""
    prior = (" Channel 4 is the previous frame's person probability in [0, 1] (this model's own output; zeros "
             "for a first frame), fed as it is: MediaPipe Tasks feeds images only.") if channels == 4 else ""
    normalization = table("NormalizationOptions", mean=[(0.0 - INPUT_OFFSET) / INPUT_SCALE], std=[1.0 / INPUT_SCALE])
    return table("TensorMetadata", name="image",
                 description=f"{CHANNEL_ORDER} photo, the whole of it stretched to {size}x{size} (bilinear), "
                             f"x = pixel * {INPUT_SCALE:.6g} + {INPUT_OFFSET:g}.{prior}",
                 content=table("Content", content_properties_type=IMAGE_PROPERTIES,
                               content_properties=table("ImageProperties", color_space=RGB)),
                 process_units=[table("ProcessUnit", options_type=NORMALIZATION_OPTIONS, options=normalization)],
                 stats=table("Stats", min=[INPUT_OFFSET], max=[255 * INPUT_SCALE + INPUT_OFFSET]))


def output_metadata(kind):
    """The output as a segmentation mask over dimensions 1 and 2 (height, width), its channels labelled."""
    probabilities = kind in ("softmax", "sigmoid")
    return table("TensorMetadata", name="segmentation_masks", description=OUTPUT_DESCRIPTION[kind],
                 content=table("Content", content_properties_type=IMAGE_PROPERTIES,
                               content_properties=table("ImageProperties", color_space=GRAYSCALE),
                               range=table("ValueRange", min=1, max=2)),
                 stats=table("Stats", min=[0.0], max=[1.0]) if probabilities else table("Stats"),
                 associated_files=[table("AssociatedFile", name=LABELS_FILE, type=TENSOR_AXIS_LABELS,
                                         description="The output's channels, one label a line: "
                                                     + ", ".join(labels(kind)) + ".")])


def segmenter_options(kind):
    return finished(table("ImageSegmenterOptions", activation=ACTIVATION[kind]), SEGMENTER_IDENTIFIER)


def describe(size, kind, variant, weights, spec):
    """The metadata of one exported file: ``kind`` is its output (convert/sidecar.py's ``output_kind``)."""
    encoder = spec.get("kwargs", {}).get("encoder")
    network = spec["model"] + (f" on a {encoder} encoder" if encoder else "")
    channels = spec.get("kwargs", {}).get("input_channels", 3)
    subgraph = table("SubGraphMetadata", input_tensor_metadata=[input_metadata(size, channels)],
                     output_tensor_metadata=[output_metadata(kind)],
                     custom_metadata=[table("CustomMetadata", name=SEGMENTER_METADATA_NAME,
                                            data=segmenter_options(kind))])
    root = table("ModelMetadata", name=f"{AUTHOR} {spec['model']} {size}x{size}",
                 description=f"Person segmentation ({network}, {variant}): the person's mask in a photo.",
                 version=f"{os.path.basename(weights)} {variant}", subgraph_metadata=[subgraph],
                 author=AUTHOR, license=LICENSE, min_parser_version=MIN_PARSER_VERSION)
    return Metadata(finished(root, METADATA_IDENTIFIER), {LABELS_FILE: "\n".join(labels(kind)) + "\n"})


def attach(content, metadata):
    """``content`` (a .tflite flatbuffer without metadata) with ``metadata`` added beside its graph."""
    model = read_model_from_bytearray(bytearray(content))
    buffer = tflite_schema.BufferT()
    buffer.data = list(metadata.flatbuffer)
    model.buffers.append(buffer)
    entry = tflite_schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [entry]
    packed = io.BytesIO(bytes(convert_object_to_bytearray(model)))
    if not metadata.files:
        return packed.getvalue()
    packed.seek(0, io.SEEK_END)
    with zipfile.ZipFile(packed, "a") as archive:
        for name, text in metadata.files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), text)
    return packed.getvalue()


def metadata_buffer(content):
    """The ModelMetadata flatbuffer a .tflite carries, or None."""
    model = tflite_schema.Model.GetRootAs(content, 0)
    for i in range(model.MetadataLength()):
        if model.Metadata(i).Name() == METADATA_NAME:
            data = model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy()
            return None if isinstance(data, int) else data.tobytes()
    return None


def associated_files(content):
    """The files zipped after a .tflite's flatbuffer, by name ({} when there are none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {name: archive.read(name).decode() for name in archive.namelist()}
    except zipfile.BadZipFile:
        return {}


def check_metadata(path, flag):
    """A UserError names ``path`` unless it carries TFLite model metadata with its labels file and, for one
    of our exports, exactly the metadata its sidecar describes."""
    with open(path, "rb") as f:
        content = f.read()
    found, files = metadata_buffer(content), associated_files(content)
    if found is None or found[4:8] != METADATA_IDENTIFIER:
        raise UserError(f"{flag}: {path} carries no TFLite model metadata (export it again with --convert=True)")
    if LABELS_FILE not in files:
        raise UserError(f"{flag}: {path} lacks the {LABELS_FILE} its metadata names (export it again)")
    if os.path.isfile(sidecar_path(path)) and Metadata(found, files) != sidecar_metadata(read_sidecar(path, flag)):
        raise UserError(f"{flag}: {path} carries metadata other than its sidecar describes (export it again)")


def sidecar_metadata(sidecar):
    """The metadata ``convert`` writes into the file a sidecar describes."""
    return describe(sidecar["input"]["shape"][1], sidecar["output"]["kind"], sidecar["variant"],
                    sidecar["source_weights"], sidecar["model"])
