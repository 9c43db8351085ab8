"""Adam's update, before and after it was written in place: paired, one process.

    python benchmarks/adam_step.py

Times 150 steps of each implementation in turn, 30 rounds, on the parameters of
784-512-256-10 in float32 (the default fashion-mnist network), and prints the
median time per step and the median of the per-round ratios; then checks that
both give the same weights in float64 (to rounding).
"""
import time, numpy as np, nlayer as nl
from nlayer import optimizers as O
class OldAdam(O.Adam):
    def _update(self, p, g, s):
        t, b1, b2 = self.iterations, self.beta_1, self.beta_2
        dt = p.dtype.type
        m, v = s["m"], s["v"]
        m *= dt(b1); m += dt(1 - b1) * g
        v *= dt(b2); v += dt(1 - b2) * (g * g)
        denom = np.sqrt(v * dt(1.0 / (1 - b2**t))); denom += dt(self.epsilon)
        p -= dt(self.lr / (1 - b1**t)) * m / denom
rng = np.random.default_rng(0)
shapes = [(784,512),(512,),(512,256),(256,),(256,10),(10,)]
G = [[rng.standard_normal(s).astype(np.float32)*0.01 for s in shapes] for _ in range(4)]
res = {}
for cls in (OldAdam, O.Adam):
    res[cls.__name__] = []
runs = {c: ([rng.standard_normal(s).astype(np.float32) for s in shapes], c(lr=1e-3)) for c in (OldAdam, O.Adam)}
for r in range(30):  # rounds alternate, so drift touches both
    for c,(params,opt) in runs.items():
        gs = [[g.copy() for g in G[i%4]] for i in range(150)]
        t=time.perf_counter()
        for g in gs: opt.step(params, g)
        res[c.__name__].append((time.perf_counter()-t)/150*1e3)
for k,v in res.items(): print(k, "median %.3f ms/step" % np.median(v))
print("ratio new/old per round median: %.3f" % np.median(np.array(res["Adam"])/np.array(res["OldAdam"])))
# exactness vs old in float64
p1=[rng.standard_normal(s) for s in shapes]; p2=[a.copy() for a in p1]
o1,o2=OldAdam(lr=1e-3),O.Adam(lr=1e-3)
for i in range(50):
    g=[rng.standard_normal(s) for s in shapes]
    o1.step(p1,[x.copy() for x in g]); o2.step(p2,[x.copy() for x in g])
print("max rel diff float64:", max(float(np.max(np.abs(a-b))/np.max(np.abs(a))) for a,b in zip(p1,p2)))
