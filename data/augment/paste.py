"""Copy-paste (Ghiasi et al. 2021, "Simple Copy-Paste is a Strong Data Augmentation Method"): the person of
another training pair, shrunk and moved, pasted over a training photo, so that the network also sees people
small, in groups and in front of scenes that no photo of the set shows them in."""
import tensorflow as tf

from data.augment.geometric import warp
from data.augment.rng import coin, seeds, uniform

SCALE = (0.3, 0.9)  # the pasted person's size, a share of the photo's side
STREAM = 2  # folded into a sample's seed pair: the paste's draws are independent of its augmentation's


def paste_person(image, matte, donor_image, donor_matte, seed, scale=SCALE):
    """``image`` with the person of ``donor_image`` (matte ``donor_matte``, both at the image's size) shrunk by a
    random share of ``scale`` and placed anywhere inside; the alpha becomes the union of both people.

    A matte may carry alpha + foreground F + background B (7 channels, a pseudo-alpha cache): then the donor's F
    is what gets pasted, and the result's F and B still composite to the result with its alpha."""
    s_scale, s_x, s_y = seeds(seed, 3)
    s = uniform(s_scale, scale)
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    tx, ty = uniform(s_x, (0.0, 1.0)) * (1 - s) * hw[1], uniform(s_y, (0.0, 1.0)) * (1 - s) * hw[0]
    inverse = tf.convert_to_tensor([[1 / s, 0.0, -tx / s], [0.0, 1 / s, -ty / s], [0.0, 0.0, 1.0]])
    layered = matte.shape[-1] > 1
    front, donor = warp(donor_matte[..., 1:4] if layered else donor_image, donor_matte, inverse, "constant", 0.0)
    alpha, own = donor[..., :1], matte[..., :1]
    union = 1 - (1 - alpha) * (1 - own)
    pasted = alpha * front + (1 - alpha) * image
    if not layered:
        return pasted, union
    foreground = tf.math.divide_no_nan(alpha * front + (1 - alpha) * own * matte[..., 1:4], union)
    return pasted, tf.concat([union, foreground, matte[..., 4:]], axis=-1)


def with_copy_paste(load, count, p):
    """``load(index, seed_pair) -> (image, matte)``: ``load(index)``, and with probability ``p`` the person of
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
