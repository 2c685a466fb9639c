"""Training photos from DAVIS video clips: scene data for the still-photo model.

    python -m data.davis pairs DATASETS/davis_people ./datasets/davis_dev \
        --clips breakdance-flare,hike,rollerblade --every 4
    python -m data.davis unlabelled DATASETS/davis_unlabelled ./datasets/davis_unlabelled \
        --teacher trained_models/teacher_float16.tflite

(DATASETS: the shared data's datasets/ folder.)

``pairs`` reads ``SRC/clips/<clip>/`` (frames and their ``_matte.png``, in name order) for the clips named,
keeps every ``--every``-th frame (consecutive frames are near-duplicates) and writes to ``DEST/training/``
two pairs per kept frame: the whole frame (``<clip>_<frame>.jpg``, as a video frame is seen) and a zoom
(``<clip>_<frame>_zoom.jpg``): a 3:4 crop around the person's box, ``ZOOM_MARGIN`` times its size, so
that the person, 2-14 % of a DAVIS frame, fills as much of the crop as a portrait photo's person does.
Only clips whose every person is labelled belong here (DAVIS labels one object: dance-twirl's crowd and
dance-jump's second dancer are not).

``unlabelled`` reads ``SRC/images/`` (photos without person mattes; DAVIS's ``_davisobj.png`` there is
not a photo and is never read) and writes to ``DEST/`` each photo and a zoom of it around the person
that ``--teacher`` finds (its probability >= 0.5; no zoom where it finds nobody), for ``--unlabeled_dir``,
where the same teacher labels them during training.

``DEST/davis.json`` lists what was written from what.
"""
import argparse
import json
import os
import sys
from typing import Optional

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data.images import read_image  # noqa: E402
from data.layout import IMAGE_EXTENSIONS, MATTE_SUFFIX  # noqa: E402
from data.preprocess import model_input  # noqa: E402
from models.predictors import load_predictor  # noqa: E402
from postprocess.refine import upsample  # noqa: E402

ZOOM_MARGIN = 1.5  # the crop's side against the person's box
ASPECT = 3 / 4  # width / height of a zoom, as EG1800's portraits
MIN_PERSON_PIXELS = 64  # a teacher's "person" smaller than this is no person to zoom on
JPEG_QUALITY = 95


def frame_names(folder: str) -> list:
    """The frames of a clip folder (photos with a ``_matte.png`` beside them), in name order."""
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS) and not f.endswith(MATTE_SUFFIX)
                  and os.path.isfile(os.path.join(folder, os.path.splitext(f)[0] + MATTE_SUFFIX)))


def zoom_box(person: np.ndarray, margin: float = ZOOM_MARGIN, aspect: float = ASPECT) -> Optional[tuple]:
    """(top, bottom, left, right) of a crop of about ``aspect`` around the boolean mask ``person``, ``margin``
    times its box on its longer side, moved to lie inside the frame and cut by it where larger (then wide
    enough for the person's box); None for an empty mask."""
    ys, xs = np.nonzero(person)
    if ys.size == 0:
        return None
    frame_h, frame_w = person.shape
    box_h, box_w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    height = min(frame_h, round(max(margin * box_h, margin * box_w / aspect)))
    width = min(frame_w, max(round(height * aspect), box_w))  # cut by the frame's height: still the whole person
    centre_y, centre_x = (ys.max() + ys.min()) / 2, (xs.max() + xs.min()) / 2
    top = int(np.clip(round(centre_y - height / 2), 0, frame_h - height))
    left = int(np.clip(round(centre_x - width / 2), 0, frame_w - width))
    return top, top + height, left, left + width


def write_jpeg(path: str, rgb: np.ndarray) -> None:
    cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])


def write_pairs(source: str, dest: str, clips: list, every: int) -> list:
    """The frames of ``clips`` (every ``every``-th) and their zooms as pairs under ``dest``/training."""
    out = os.path.join(dest, "training")
    os.makedirs(out, exist_ok=True)
    written = []
    for clip in clips:
        folder = os.path.join(source, "clips", clip)
        if not os.path.isdir(folder):
            raise SystemExit(f"pairs: no clip folder {folder}")
        for name in frame_names(folder)[::every]:
            stem = os.path.splitext(name)[0]
            frame = cv2.cvtColor(cv2.imread(os.path.join(folder, name), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            matte = cv2.imread(os.path.join(folder, stem + MATTE_SUFFIX), cv2.IMREAD_GRAYSCALE)
            box = zoom_box(matte >= 128)
            views = {f"{clip}_{stem}": (frame, matte)}
            if box is not None:
                top, bottom, left, right = box
                views[f"{clip}_{stem}_zoom"] = (frame[top:bottom, left:right], matte[top:bottom, left:right])
            for out_stem, (image, truth) in views.items():
                write_jpeg(os.path.join(out, out_stem + ".jpg"), image)
                cv2.imwrite(os.path.join(out, out_stem + MATTE_SUFFIX), truth)
                written.append({"pair": out_stem, "clip": clip, "frame": name, "size": list(image.shape[1::-1])})
    return written


def write_unlabelled(source: str, dest: str, teacher: str) -> list:
    """Each photo of ``source``/images and its zoom around the teacher's person, under ``dest``."""
    predictor = load_predictor(teacher)
    folder = os.path.join(source, "images")
    if not os.path.isdir(folder):
        raise SystemExit(f"unlabelled: no folder {folder}")
    os.makedirs(dest, exist_ok=True)
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".jpg"))  # not the _davisobj.png hints
    written = []
    for name in names:
        stem = os.path.splitext(name)[0]
        photo = read_image(os.path.join(folder, name), "unlabelled")
        person = upsample(predictor(model_input(photo, predictor.size)[None]), photo.shape) >= 0.5
        write_jpeg(os.path.join(dest, stem + ".jpg"), photo)
        written.append({"photo": stem, "zoom": False, "teacher_person_share": float(person.mean())})
        box = zoom_box(person) if person.sum() >= MIN_PERSON_PIXELS else None
        if box is not None:
            top, bottom, left, right = box
            write_jpeg(os.path.join(dest, stem + "_zoom.jpg"), photo[top:bottom, left:right])
            written.append({"photo": stem + "_zoom", "zoom": True, "box": [top, bottom, left, right]})
    return written


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pairs = sub.add_parser("pairs", help="labelled frames of clips, and their zooms")
    pairs.add_argument("source", help="a folder with clips/<clip>/")
    pairs.add_argument("dest", help="where to write training/")
    pairs.add_argument("--clips", required=True, help="comma-separated clip names (only fully labelled clips)")
    pairs.add_argument("--every", type=int, default=4, help="keep every N-th frame of each clip")
    unlabelled = sub.add_parser("unlabelled", help="photos without mattes, and zooms on the teacher's person")
    unlabelled.add_argument("source", help="a folder with images/")
    unlabelled.add_argument("dest", help="where to write the photos")
    unlabelled.add_argument("--teacher", required=True, help="a model (.tflite with sidecar, or .h5) to find people")
    args = p.parse_args(argv)
    if args.command == "pairs":
        if args.every < 1:
            raise SystemExit("--every must be at least 1")
        clips = [c.strip() for c in args.clips.split(",") if c.strip()]
        written = write_pairs(args.source, args.dest, clips, args.every)
        record = {"command": "pairs", "source": args.source, "clips": clips, "every": args.every, "pairs": written}
    else:
        written = write_unlabelled(args.source, args.dest, args.teacher)
        record = {"command": "unlabelled", "source": args.source, "teacher": args.teacher, "photos": written}
    with open(os.path.join(args.dest, "davis.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(f"{args.dest}: {len(written)} {'pairs' if args.command == 'pairs' else 'photos'} written")


if __name__ == "__main__":
    main()
