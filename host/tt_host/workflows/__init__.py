"""The technician's workflows: streaming samples to train a board, provisioning its plan,
pulling and predicting, the demo, the sample folders, the hash cache and the learning-rate trial."""
