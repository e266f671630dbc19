//! Cost of one host choice: the [`HostIndex`] against the linear scans of
//! `slivers_policy::fit`, at 10^2..10^5 hosts.
//!
//! Each cluster has hosts of 40 cores / 90 GiB filled to about 70 % of
//! their cpu with VMs drawn from the generator's flavour mix
//! (`slivers::trace::vmreq::FLAVOURS`, seeded ChaCha8), placed by first fit
//! in host order, so hosts have varied free shapes and some are full in
//! one dimension. A measured iteration chooses a host for the next size
//! of a fixed cycle of 1,024 drawn sizes (`choose/<kind>/<impl>/<hosts>`),
//! or places one of those sizes on a host and removes it again
//! (`update/index/<hosts>`: two updates, `Throughput::Elements(2)`). A
//! choice iteration is one decision (`Throughput::Elements(1)`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use slivers::rng::SimRng;
use slivers::trace::vmreq::FLAVOURS;
use slivers_policy::{ClusterView, FitKind, HostId, HostIndex, Resources};

const HOSTS: [usize; 4] = [100, 1_000, 10_000, 100_000];
const CAPACITY: Resources = Resources::new(40_000, 92_160, 1000, 200);

fn flavour(rng: &mut SimRng) -> Resources {
    let u = rng.uniform();
    let mut acc = 0.0;
    for &(c, g, p) in &FLAVOURS {
        acc += p;
        if u < acc {
            return Resources::new(c * 1000, g * 1024, 0, 0);
        }
    }
    Resources::new(1000, 1024, 0, 0)
}

/// An index and the same hosts as views, ~70 % of cpu committed.
fn cluster(n: usize, rng: &mut SimRng) -> HostIndex {
    let mut idx = HostIndex::new(n, CAPACITY).unwrap();
    let target = CAPACITY.0[0] as u128 * n as u128 * 7 / 10;
    while idx.total_used()[0] < target {
        let size = flavour(rng);
        // Spread the fill over all hosts: start at a random host.
        let h = HostId(rng.below(n as u64) as u32);
        if idx.free(h).0[0] >= size.0[0] && size.fits_in(&idx.free(h)) {
            idx.update(h, idx.used(h).plus(&size));
        } else if let Some(h) = idx.first_fit(&size, None) {
            idx.update(h, idx.used(h).plus(&size));
        }
    }
    idx
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("placement");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    for n in HOSTS {
        let mut rng = SimRng::seed_from_u64(n as u64);
        let mut idx = cluster(n, &mut rng);
        let sizes: Vec<Resources> = (0..1024).map(|_| flavour(&mut rng)).collect();
        let views = idx.views();
        for kind in FitKind::ALL {
            let mut i = 0;
            g.bench_function(BenchmarkId::new(format!("choose/{kind}/index"), n), |b| {
                b.iter(|| {
                    i = (i + 1) & 1023;
                    black_box(idx.choose(kind, black_box(&sizes[i]), None))
                })
            });
            let view = ClusterView::new(&views);
            let mut i = 0;
            g.bench_function(BenchmarkId::new(format!("choose/{kind}/linear"), n), |b| {
                b.iter(|| {
                    i = (i + 1) & 1023;
                    black_box(kind.linear(&view, black_box(&sizes[i]), None))
                })
            });
        }
        // Place a VM on a host with room, then remove it: two updates.
        let moves: Vec<(HostId, Resources)> = sizes
            .iter()
            .map(|s| (idx.worst_fit(s, None).unwrap_or(HostId(0)), *s))
            .collect();
        let mut i = 0;
        g.throughput(Throughput::Elements(2));
        g.bench_function(BenchmarkId::new("update/index", n), |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let (h, s) = moves[i];
                let before = idx.used(h);
                idx.update(black_box(h), before.plus(&s));
                idx.update(black_box(h), before);
            })
        });
        g.throughput(Throughput::Elements(1));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
