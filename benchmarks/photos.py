"""Photos as users run them, through the real command line, each run its own process: wall time and peak memory.

    python benchmarks/photos.py trained_models/initial.tflite [--h5 trained_models/initial.h5]
        [--photo docs/images/astronaut.jpg] [--megapixels 12] [--folder 12] [--background blur] [--reference]

In one run, beside ``python -c "import tensorflow"``: one photo through MODEL; one through ``--h5``; a folder
of ``--folder`` copies of the photo (the model loaded once); the photo and the photo enlarged (Lanczos) to
about ``--megapixels`` (4:3, a phone camera's shape), both with ``--background``. Photos are JPEGs of
quality 92 in a temporary folder. Each line gives the process's wall time and peak resident memory (the
child's ru_maxrss).

``--reference`` also computes the big photo's composite with no working resolution (foreground estimation
and blur at full size, what the outputs cost before they were bounded) and prints how far the command
line's composite is from it: the mean and 99th percentile of |difference| over all pixels, in 8-bit levels,
and its time.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data.images import read_image  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASPECT = (4, 3)


def measured(command):
    """(wall seconds, peak RSS in MB) of one process, measured from a child of its own."""
    measure = ("import resource, subprocess, sys, time; start = time.perf_counter(); "
               "code = subprocess.run(sys.argv[1:], capture_output=True).returncode; "
               "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)")
    result = subprocess.run([sys.executable, "-c", measure, *command], capture_output=True, text=True, cwd=REPO)
    seconds, kilobytes, code = result.stdout.strip().splitlines()[-1].split()
    if int(code):
        raise SystemExit(f"{' '.join(command)} failed")
    return float(seconds), int(kilobytes) / 1024


def run_cli(model, photos, output_dir, background=""):
    """(wall seconds, peak RSS in MB) of one --infer_single_img process."""
    return measured([sys.executable, os.path.join(REPO, "main.py"), "--infer_single_img=True", f"--weight_dir={model}",
                     f"--img_path={photos}", f"--output_dir={output_dir}", f"--background={background}"])


def enlarged(image, megapixels):
    width = round((megapixels * 1e6 * ASPECT[0] / ASPECT[1]) ** 0.5)
    height = round(width * ASPECT[1] / ASPECT[0])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LANCZOS4)


def full_size_composite(model, photo, background):
    """The composite with foreground estimation and blur at the photo's full size, and its seconds."""
    import postprocess.cutout as cutout
    from engine.segmenter import Segmenter

    image = read_image(photo)
    alpha = Segmenter(model)(image)
    start = time.perf_counter()
    cutout.WORK_PIXELS = image.shape[0] * image.shape[1]
    foreground, scene = cutout.foreground_and_background(image, alpha)
    picture = cutout.composite(foreground, alpha, cutout.new_background(background, scene))
    return picture, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a .tflite export (with its sidecar)")
    p.add_argument("--h5", default="", help="a .h5 checkpoint, for one photo through Keras")
    p.add_argument("--photo", default=os.path.join(REPO, "docs", "images", "astronaut.jpg"))
    p.add_argument("--megapixels", type=float, default=12.0)
    p.add_argument("--folder", type=int, default=12, help="photos in the folder run")
    p.add_argument("--background", default="blur")
    p.add_argument("--reference", action="store_true", help="also compare with full-size foreground and blur")
    args = p.parse_args()
    line = lambda name, result: print(f"{name}: {result[0]:.2f} s, peak RSS {result[1]:.0f} MB")  # noqa: E731
    with tempfile.TemporaryDirectory() as folder:
        image = read_image(args.photo, "--photo")
        small, big, many = (os.path.join(folder, name) for name in ("small.jpg", "big.jpg", "many"))
        os.makedirs(many)
        for path in [small] + [os.path.join(many, f"photo{i:02d}.jpg") for i in range(args.folder)]:
            cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        cv2.imwrite(big, cv2.cvtColor(enlarged(image, args.megapixels), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
        height, width = image.shape[:2]
        line('python -c "import tensorflow"', measured([sys.executable, "-c", "import tensorflow"]))
        one = run_cli(args.model, small, os.path.join(folder, "one"))
        line(f"one {width}x{height} photo, {os.path.basename(args.model)}", one)
        if args.h5:
            h5 = run_cli(args.h5, small, os.path.join(folder, "h5"))
            line(f"one {width}x{height} photo, {os.path.basename(args.h5)}", h5)
        several = run_cli(args.model, many, os.path.join(folder, "many"))
        line(f"a folder of {args.folder} such photos, {os.path.basename(args.model)}", several)
        print(f"  the folder took {several[0] / one[0]:.2f}x one photo's time")
        results = {}
        for name, path in (("small", small), ("big", big)):
            h, w = read_image(path).shape[:2]
            results[name] = run_cli(args.model, path, os.path.join(folder, name), args.background)
            line(f"{w}x{h} ({w * h / 1e6:.1f} MP), --background={args.background}", results[name])
        print(f"  big - small: {results['big'][0] - results['small'][0]:+.2f} s, "
              f"{results['big'][1] - results['small'][1]:+.0f} MB")
        if args.reference:
            ours = cv2.cvtColor(cv2.imread(os.path.join(folder, "big", "big_composite.jpg")), cv2.COLOR_BGR2RGB)
            reference, seconds = full_size_composite(args.model, big, args.background)
            difference = np.abs(ours.astype(np.int16) - reference.astype(np.int16))
            print(f"full-size foreground and blur: {seconds:.1f} s for F, B and the composite; the command line's "
                  f"composite differs by {difference.mean():.2f} levels on average, "
                  f"{np.percentile(difference, 99):.0f} at the 99th percentile (its JPEG included)")


if __name__ == "__main__":
    main()
