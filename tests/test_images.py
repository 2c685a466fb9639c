"""The one reader of photos and mattes (data/images.py): EXIF orientation, formats, unreadable files."""
import numpy as np
import pytest
from PIL import Image

from data.images import image_size, read_image, read_matte
from data.preprocess import model_input
from utils import UserError

# What a viewer shows for each EXIF orientation, as the operation that turns the stored pixels upright.
UPRIGHT = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
           7: lambda a: a[::-1, ::-1].transpose(1, 0, 2), 8: lambda a: np.rot90(a, 1)}


def stored(upright, orientation):
    """The pixels a camera stores, with tag ``orientation``, for a photo that looks like ``upright``."""
    inverse = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}[orientation]
    return np.ascontiguousarray(UPRIGHT[inverse](upright))


def quadrants(height=48, width=32):
    """An upright test photo whose four quadrants have different colours, blocks of 16 px (JPEG-friendly)."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:height // 2, :width // 2] = (250, 0, 0)
    image[:height // 2, width // 2:] = (0, 250, 0)
    image[height // 2:, :width // 2] = (0, 0, 250)
    image[height // 2:, width // 2:] = (250, 250, 250)
    return image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_read_as_a_viewer_shows_it(tmp_path, orientation):
    upright = quadrants()
    path = tmp_path / f"o{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored(upright, orientation)).save(path, quality=100, subsampling=0, exif=exif)
    with Image.open(path) as check:
        assert check.getexif()[0x0112] == orientation  # a real EXIF-tagged JPEG
    image = read_image(str(path))
    assert image.shape == upright.shape and np.abs(image.astype(int) - upright).mean() < 2
    assert image_size(str(path)) == (upright.shape[1], upright.shape[0])


def test_an_exif_rotated_photo_gives_the_model_the_upright_input(tmp_path):
    upright = quadrants(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored(upright, 6)).save(tmp_path / "phone.jpg", quality=100, subsampling=0, exif=exif)
    Image.fromarray(upright).save(tmp_path / "plain.jpg", quality=100, subsampling=0)
    rotated, plain = (model_input(read_image(str(tmp_path / name)), 32) for name in ("phone.jpg", "plain.jpg"))
    assert np.abs(rotated - plain).max() < 0.03


def test_formats_become_8_bit_rgb_and_mattes_one_channel(tmp_path):
    Image.fromarray((np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)).save(tmp_path / "deep.png")
    Image.fromarray(np.full((8, 8, 4), 200, np.uint8)).save(tmp_path / "rgba.png")
    Image.fromarray(np.full((8, 8), 128, np.uint8)).convert("P").save(tmp_path / "palette.png")
    for name in ("deep.png", "rgba.png", "palette.png"):
        image = read_image(str(tmp_path / name))
        assert image.dtype == np.uint8 and image.shape == (8, 8, 3)
    matte = read_matte(str(tmp_path / "deep.png"))
    assert matte.dtype == np.float32 and matte.shape == (8, 8) and matte.max() == pytest.approx(63000 / 65535, abs=0.01)


def test_a_truncated_jpeg_is_one_line_naming_the_file_and_nothing_native(tmp_path, capfd):
    Image.fromarray(quadrants()).save(tmp_path / "whole.jpg", quality=90)
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    with pytest.raises(UserError, match="--img_path") as err:
        read_image(str(tmp_path / "cut.jpg"))
    assert "cut.jpg" in str(err.value) and "\n" not in str(err.value)
    assert capfd.readouterr().err == ""  # no libjpeg "Premature end of JPEG data" line


def test_missing_and_non_image_files_name_the_flag(tmp_path):
    (tmp_path / "notes.jpg").write_text("not a photo")
    for path, needle in ((tmp_path / "absent.jpg", "no such file"), (tmp_path / "notes.jpg", "not a readable")):
        with pytest.raises(UserError, match="--background") as err:
            read_image(str(path), "--background")
        assert needle in str(err.value)
