"""Copy-paste (Ghiasi et al. 2021, "Simple Copy-Paste is a Strong Data Augmentation Method"): the person of
another training pair, shrunk and moved, pasted over a training photo, so that the network also sees people
small, in groups and in front of scenes that no photo of the set shows them in."""
import tensorflow as tf

from data.augment.rng import coin, seeds, uniform

SCALE = (0.3, 0.9)  # the pasted person's size, a share of the photo's side
STREAM = 2  # folded into a sample's seed pair: the paste's draws are independent of its augmentation's


def anchored(touch_low, touch_high, room, draw):
    """Offset along one axis of a pasted person ``room`` pixels shorter than the photo: flush with the edge that
    cuts the person in its own photo (so that no straight cut lands mid-photo), else ``draw`` x room."""
    free = tf.cast(draw * tf.cast(room, tf.float32), tf.int32)
    return tf.where(touch_low, 0, tf.where(touch_high, room, free))


def paste_person(image, matte, donor_image, donor_matte, seed, scale=SCALE):
    """``image`` with the person of ``donor_image`` (matte ``donor_matte``, both at the image's size) shrunk by a
    random share of ``scale`` and placed inside; the alpha becomes the union of both people.

    A person cut by an edge of its photo stays on that edge (a selfie's shoulders on the bottom); one cut by
    two opposite edges fits nowhere smaller and is not pasted. The shrink is antialiased: an aliased person,
    sharper than the photo, would teach the network that fine texture is a person. A matte may carry alpha +
    foreground F + background B (7 channels, a pseudo-alpha cache): then the donor's F is what gets pasted, and
    the result's F and B still composite to the result."""
    s_scale, s_x, s_y = seeds(seed, 3)
    layered = matte.shape[-1] > 1
    height, width = image.shape[0], image.shape[1]
    person = donor_matte[..., 0] > 0.5
    top_cut, bottom_cut = tf.reduce_any(person[0]), tf.reduce_any(person[-1])
    left_cut, right_cut = tf.reduce_any(person[:, 0]), tf.reduce_any(person[:, -1])
    fits = tf.logical_not((top_cut & bottom_cut) | (left_cut & right_cut))
    size = tf.cast(tf.round(uniform(s_scale, scale) * tf.constant([height, width], tf.float32)), tf.int32)
    top = anchored(top_cut, bottom_cut, height - size[0], uniform(s_y, (0.0, 1.0)))
    left = anchored(left_cut, right_cut, width - size[1], uniform(s_x, (0.0, 1.0)))
    layers = tf.concat([donor_matte[..., 1:4] if layered else donor_image, donor_matte[..., :1]], axis=-1)
    placed = tf.image.pad_to_bounding_box(tf.image.resize(layers, size, antialias=True), top, left, height, width)
    front, own = placed[..., :3], matte[..., :1]
    alpha = tf.clip_by_value(placed[..., 3:], 0.0, 1.0) * tf.cast(fits, tf.float32)
    union = 1 - (1 - alpha) * (1 - own)
    pasted = alpha * front + (1 - alpha) * image
    if not layered:
        return pasted, union
    foreground = tf.math.divide_no_nan(alpha * front + (1 - alpha) * own * matte[..., 1:4], union)
    return pasted, tf.concat([union, foreground, matte[..., 4:]], axis=-1)


def with_copy_paste(load, count, p):
    """``sample(index, seed_pair) -> (image, matte)``: ``load(index)``, and with probability ``p`` the person of
    another of the ``count`` pairs (both drawn from ``seed_pair``) pasted in."""
    def sample(index, seed_pair):
        image, matte = load(index)
        s_coin, s_donor, s_paste = seeds(tf.random.experimental.stateless_fold_in(seed_pair, STREAM), 3)

        def pasted():
            donor = tf.random.stateless_uniform((), s_donor, 0, count, dtype=tf.int64)
            donor_image, donor_matte = load(donor)
            return paste_person(image, matte, donor_image, donor_matte, s_paste)
        return tf.cond(coin(s_coin, p), pasted, lambda: (image, matte))
    return sample
