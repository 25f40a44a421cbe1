"""Run a training in a child process, for the tests that kill or race it:

    python train_in_subprocess.py CONFIG.yaml hold          # trains; sleeps in its first step (prints 'training')
    python train_in_subprocess.py CONFIG.yaml kill-in-save  # kill -9 of itself while writing epoch 2's last.pt
"""
import os
import signal
import sys
import time

import torch

from tanet.engine import load_config, trainer
from tanet.engine.trainer import train

config_file, mode = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
config = load_config(config_file)
if mode == "hold":
    def hold(epoch, step, loss):
        print("training", flush=True)
        time.sleep(120)

    train(config, step_hook=hold)
elif mode == "kill-in-save":
    real_save = trainer.save_checkpoint

    def save(path, state, **kwargs):
        if state["epoch"] == 2:
            kwargs["_before_replace"] = lambda tmp: os.kill(os.getpid(), signal.SIGKILL)
        return real_save(path, state, **kwargs)

    trainer.save_checkpoint = save
    train(config)
