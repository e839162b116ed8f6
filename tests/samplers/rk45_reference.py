"""RK45 reference numbers for tests/samplers/test_ode.c: the algorithms.md §9.4(a) problem
(D = 16, B = 4, K = 3 mixture, exact float64 score, rtol = atol = 1e-5, one batch-global
system) with scipy's solve_ivp — first as scipy 1.10 does it (the spec's table), then with
select_initial_step replaced by the scipy >= 1.11 form that clips the probe step and the
result to the interval length (clsde's default). Run with a Python that has numpy and scipy
1.10: /usr/bin/python3 tests/samplers/rk45_reference.py
"""
import numpy as np, scipy.integrate as si, sys
D=16;w=np.array([0.2,0.5,0.3]);s=np.array([0.1,0.3,0.2])
mu=np.array([[0.7*np.sin(16*k+d) for d in range(16)] for k in range(3)])
bmin,bmax=0.1,20.;smin,smax=0.01,50.
def bint(t): return bmin*t+0.5*(bmax-bmin)*t*t
def msig(t,typ):
    if typ=='ve': return 1.0, smin*(smax/smin)**t
    m=np.exp(-0.5*bint(t))
    return m, (np.sqrt(1-np.exp(-bint(t))) if typ=='vp' else 1-np.exp(-bint(t)))
def score(x,t,typ):
    m,sig=msig(t,typ); c=m*m*s*s+sig*sig
    u=m*mu[None]-x[:,None,:]
    l=np.log(w)-D/2*np.log(2*np.pi*c)-(u**2).sum(-1)/(2*c)
    r=np.exp(l-l.max(1,keepdims=True)); r/=r.sum(1,keepdims=True)
    return (r[:,:,None]*u/c[None,:,None]).sum(1)
def F(t,y,typ):
    x=y.reshape(-1,16)
    if typ=='ve':
        g2=(smin*(smax/smin)**t)**2*2*np.log(smax/smin); f=0*x
    else:
        beta=bmin+t*(bmax-bmin); f=-0.5*beta*x
        g2=beta if typ=='vp' else beta*(1-np.exp(-2*bint(t)))
    return (f-0.5*g2*score(x,t,typ)).ravel()
for typ in ['ve','vp','subvp']:
  Z=50 if typ=='ve' else 1
  y0=np.array([Z*np.sin(1+16*b+d) for b in range(4) for d in range(16)])
  f0=F(1.,y0,typ); sc=1e-5+1e-5*abs(y0)
  n=lambda v: np.linalg.norm(v)/np.sqrt(v.size)
  d0=n(y0/sc);d1=n(f0/sc);h0=0.01*d0/d1 if (d0>=1e-5 and d1>=1e-5) else 1e-6
  eps=1e-5 if typ=='ve' else 1e-3
  ts=[]
  sol=si.solve_ivp(lambda t,y:(ts.append(t),F(t,y,typ))[1],(1,eps),y0,rtol=1e-5,atol=1e-5,method='RK45')
  print(typ,'d0',d0,'d1',d1,'h0',h0,'nfev',sol.nfev,'t probe',ts[1], 'y',sol.y[:3,-1], sol.y[:,-1].sum())
import scipy.integrate._ivp.rk as rk
from scipy.integrate._ivp.common import norm
def sis(fun, t0, y0, f0, direction, order, rtol, atol, t_bound=None):
    interval_length = abs(T_BOUND - t0)
    scale = atol + np.abs(y0) * rtol
    d0 = norm(y0 / scale); d1 = norm(f0 / scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, interval_length)
    y1 = y0 + h0 * direction * f0
    f1 = fun(t0 + h0 * direction, y1)
    d2 = norm((f1 - f0) / scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15: h1 = max(1e-6, h0 * 1e-3)
    else: h1 = (0.01 / max(d1, d2)) ** (1 / (order + 1))
    return min(100 * h0, h1, interval_length)
rk.select_initial_step = sis
print("clipped (scipy >= 1.11 style)")
for typ in ['ve','vp','subvp']:
  Z=50 if typ=='ve' else 1
  y0=np.array([Z*np.sin(1+16*b+d) for b in range(4) for d in range(16)])
  eps=1e-5 if typ=='ve' else 1e-3
  T_BOUND=eps
  sol=si.solve_ivp(lambda t,y:F(t,y,typ),(1,eps),y0,rtol=1e-5,atol=1e-5,method='RK45')
  ok=sol.status
  # count accepted/rejected: nfev = 2 + 6*attempts; accepted = len(sol.t)-1
  np.set_printoptions(precision=12); print(typ,'nfev',sol.nfev,'accepted',len(sol.t)-1,'rejected',(sol.nfev-2)//6-(len(sol.t)-1),'y',repr(sol.y[:3,-1]),repr(sol.y[:,-1].sum()),repr(np.linalg.norm(sol.y[:,-1])))
