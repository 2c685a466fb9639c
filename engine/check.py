"""``--check_data``: scan a dataset once, without training, and report what training would meet."""
import os

from data.dataset import dataset_dirs, find_pairs, split_pairs
from data.scan import scan_pairs, size_text


def report_lines(split, report):
    for path, reason in report.bad:
        yield f"  bad ({split}): {path}: {reason}"
    for matte, matte_size, image_size in report.resized:
        yield f"  size mismatch ({split}): {matte} is {size_text(matte_size)}, image {size_text(image_size)}"
    for matte in report.empty:
        yield f"  empty matte ({split}): {matte}"


def check_data(dataset_dir, val_ratio, seed):
    """Scan each --dataset_dir folder, split as training would; returns 1 if any file is unusable, else 0."""
    return max(check_folder(folder, val_ratio, seed) for folder in dataset_dirs(dataset_dir))


def check_folder(folder, val_ratio, seed):
    """Print the problems and the pair counts of one folder; returns 1 if any file is unusable, else 0."""
    train, val = split_pairs(find_pairs(os.path.join(folder, "training")), val_ratio, seed)
    splits = {"training": train, "validation": val}
    testing = os.path.join(folder, "testing")
    if os.path.isdir(testing):
        splits["testing"] = find_pairs(testing)
    reports = {split: scan_pairs(pairs) for split, pairs in splits.items()}
    for split, report in reports.items():
        for line in report_lines(split, report):
            print(line)
    counts = ", ".join(f"{split} {len(r.good)}" + (f" (+{len(r.bad)} bad)" if r.bad else "") for split, r in reports.items())
    bad = sum(len(r.bad) for r in reports.values())
    print(f"{folder}: {counts} usable pairs; {bad} bad, "
          f"{sum(len(r.resized) for r in reports.values())} size mismatches, "
          f"{sum(len(r.empty) for r in reports.values())} empty mattes")
    return 1 if bad else 0
