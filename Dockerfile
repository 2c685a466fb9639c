# TensorFlow 2.21 (Keras 3) and Python 3.11+. The base image is a build argument: the CPU image by default,
#   docker build --build-arg BASE_IMAGE=tensorflow/tensorflow:2.21.0-gpu -t portrait-segmentation:gpu .
# for CUDA (run it with docker run --gpus all; README: Training on GPUs and clusters).
ARG BASE_IMAGE=tensorflow/tensorflow:2.21.0
FROM ${BASE_IMAGE}
WORKDIR /app
COPY requirements.txt .
RUN python3 -m pip install --no-cache-dir -r requirements.txt
COPY . .
ENV TF_CPP_MIN_LOG_LEVEL=2
EXPOSE 6006
ENTRYPOINT ["python3", "main.py"]
CMD ["--help"]
