"""Knowledge distillation: the student's person logit matched to a teacher's person probability.

Per pixel, teacher and student each give a Bernoulli distribution (person or not). Both are softened
by the temperature T (the logit divided by T) and the term is their KL divergence, KL(teacher ||
student), averaged over pixels and multiplied by T^2 so that its gradient keeps its scale as T changes
(Hinton et al. 2015). It is 0 exactly where the student agrees with the teacher.
"""
from keras import ops

from losses.segmentation import logit_of, pixel_cross_entropy


def bernoulli_entropy(p):
    return pixel_cross_entropy(p, logit_of(p))


def distillation_loss(teacher_probability, student_logit, temperature=1.0):
    """Mean per-pixel KL(teacher || student) of the temperature-softened distributions, times T^2.

    ``teacher_probability`` (B, H, W, 1) in [0, 1]; ``student_logit`` (B, H, W, 1)."""
    soft_teacher = ops.sigmoid(logit_of(ops.cast(teacher_probability, "float32")) / temperature)
    cross = pixel_cross_entropy(soft_teacher, ops.cast(student_logit, "float32") / temperature)
    return ops.mean(cross - bernoulli_entropy(soft_teacher)) * temperature ** 2
