# CPU image with TensorFlow 2.21 (Keras 3) and Python 3.11+; add -gpu to the tag for CUDA.
FROM tensorflow/tensorflow:2.21.0
WORKDIR /app
COPY requirements.txt .
RUN python3 -m pip install --no-cache-dir -r requirements.txt
COPY . .
ENV TF_CPP_MIN_LOG_LEVEL=2
ENTRYPOINT ["python3", "main.py"]
CMD ["--help"]
