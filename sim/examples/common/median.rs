//! The median the benchmarks report over rounds: on a machine whose speed drifts, the middle
//! round says more than the best or the mean. Shared by `bench_floor` and `bench_serve`
//! (`#[path]`-included: examples have no library of their own).

/// The middle value, or the mean of the two middle ones for an even count; `None` when there
/// is none. Values that are not finite are left out.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}
