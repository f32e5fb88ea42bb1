#!/usr/bin/env python3
"""PyTorch DDP peer of bench_distributed: the mnist MLP (784-512-512-10), global batch 256, SGD,
gloo backend, one thread per process, on WORLD processes of this machine.

    /usr/bin/python3 bench/torch_ddp.py WORLD [SECONDS]

Prints one line: torch-ddp WORLD steps_per_second. Inputs are fixed normal draws, labels i % 10,
as in bench_torch_train; each rank takes its contiguous 256 / WORLD rows.
"""
import faulthandler
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, world, seconds, port, out):
    faulthandler.dump_traceback_later(10 * seconds + 60, exit=True)  # a hung rank says where, then leaves
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 10))
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 784, generator=g)
    y = torch.arange(256) % 10
    rows = 256 // world
    xs, ys = x[rank * rows:(rank + 1) * rows], y[rank * rows:(rank + 1) * rows]
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(ddp(xs), ys).backward()
        opt.step()

    for _ in range(5):
        step()
    dist.barrier()
    start, steps = time.perf_counter(), 0
    more = torch.ones(1)
    while more.item() > 0:
        for _ in range(5):
            step()
        steps += 5
        more = torch.ones(1) if time.perf_counter() - start < seconds else torch.zeros(1)
        dist.broadcast(more, 0)
    rate = steps / (time.perf_counter() - start)
    if rank == 0:
        out.put(rate)
    dist.barrier()  # nobody leaves while another rank still talks to it
    # Leave without running destructors: gloo's process-group teardown sometimes blocks forever in
    # C++ once the peer has gone (seen here as a hang after the last Python line of this function).
    os._exit(0)


def main():
    world = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    out = ctx.SimpleQueue()
    ctx = mp.start_processes(worker, args=(world, seconds, port, out), nprocs=world, start_method="spawn", join=False)
    deadline = time.monotonic() + 20 * seconds + 120
    while not ctx.join(timeout=1):  # a hung rank (gloo's rendezvous) must not hang the benchmark run
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            sys.exit(f"torch_ddp.py: {world} processes did not finish within {20 * seconds + 120:.0f} s; killed")
    print(f"torch-ddp {world} {out.get():.2f}")


if __name__ == "__main__":
    main()
