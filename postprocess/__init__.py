"""Post-processing of a person probability with numpy and OpenCV only: refinement at the photo's resolution,
cut-outs and composites, and the alpha-matting metrics. Below data, convert and engine, which all use it."""
