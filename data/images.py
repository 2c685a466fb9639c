"""The one reader of photos and mattes, for inference, evaluation, training and the data scan.

A photo comes out as a viewer shows it: its EXIF orientation tag (which every phone writes) is applied,
so a selfie stored sideways is segmented upright and its outputs are upright too. 16-bit, grayscale,
palette, RGBA and CMYK files become 8-bit RGB; a matte becomes one channel.
"""
import numpy as np
from PIL import Image, ImageOps

from utils import UserError

PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
Image.MAX_IMAGE_PIXELS = 200_000_000  # a 12 MP phone photo is far below; a decompression bomb is not


def read_pillow(path, mode):
    """The image at ``path`` fully decoded, upright, in Pillow ``mode``; raises what Pillow raises."""
    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image)
        upright.load()
        if upright.mode.startswith("I;16"):  # 16-bit gray: its top 8 bits, where Pillow would clip at 255
            upright = Image.fromarray((np.asarray(upright, np.uint16) >> 8).astype(np.uint8))
        return upright.convert(mode)


def read_image(path, flag="--img_path"):
    """A photo as uint8 RGB (H, W, 3) in the orientation a viewer shows; a UserError names ``flag`` and the
    file when it is missing, truncated or not an image."""
    try:
        return np.asarray(read_pillow(path, "RGB"))
    except FileNotFoundError:
        raise UserError(f"{flag}: no such file: {path}") from None
    except UNREADABLE as err:
        raise UserError(f"{flag}: {path} is not a readable image ({err or type(err).__name__})") from None


def read_matte(path, flag="--dataset_dir"):
    """A matte as float32 alpha (H, W) in [0, 1], 0 = background, 1 = person."""
    try:
        return np.asarray(read_pillow(path, "L"), np.float32) / 255.0
    except FileNotFoundError:
        raise UserError(f"{flag}: no such file: {path}") from None
    except UNREADABLE as err:
        raise UserError(f"{flag}: {path} is not a readable matte ({err or type(err).__name__})") from None


def image_size(path):
    """(width, height) as a viewer shows the photo (EXIF orientation applied), read from its header."""
    with Image.open(path) as image:
        width, height = image.size
        orientation = image.getexif().get(ImageOps.ExifTags.Base.Orientation, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)
