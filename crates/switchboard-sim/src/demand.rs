//! When agents work and when customers call.
//!
//! A daily curve (UTC hour of day → relative demand: quiet at night, a mid-morning peak, a
//! lunch dip, a second peak in the afternoon) drives both sides. Shift starts are drawn so
//! staffing follows the curve, the way a workforce planner would staff it; the arrival
//! rate is then the curve scaled so that offered work reaches the configured occupancy of
//! staffed capacity at the busiest minute and never exceeds it elsewhere, before a
//! half-hourly "forecast error" of about ±15 % that makes queues build now and then.
//! Arrivals are a Poisson process whose rate is constant within each minute of the day.

use crate::center::{Center, Medium, Status};
use crate::rng::SimRng;

/// Relative demand at each UTC hour of the day (linearly interpolated in between).
const CURVE: [f64; 24] = [
    0.05, 0.04, 0.03, 0.03, 0.04, 0.08, 0.20, 0.45, 0.75, 0.95, 1.00, 0.95, 0.80, 0.85, 0.92, 0.90,
    0.78, 0.60, 0.42, 0.30, 0.22, 0.15, 0.10, 0.07,
];
const MINUTES: usize = 1440;
/// Share of a shift not available for contacts (breaks, lunch, logging in and out).
const SHRINKAGE: f64 = 0.15;
/// Average number of chats an agent with chat slots carries at once.
const EFFECTIVE_CHAT_CONCURRENCY: f64 = 2.0;
/// Spread of actual half-hourly demand around the planned curve (log-normal sigma).
const FORECAST_ERROR: f64 = 0.22;
/// Outbound work as a share of the Sales profile's inbound work.
const OUTBOUND_SHARE: f64 = 0.06;

/// Relative demand at a minute of the day.
pub(crate) fn curve(minute: usize) -> f64 {
    let h = (minute / 60) % 24;
    let frac = (minute % 60) as f64 / 60.0;
    CURVE[h] * (1.0 - frac) + CURVE[(h + 1) % 24] * frac
}

/// An agent's daily shift: start minute (UTC) and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShiftTemplate {
    pub start_minute: u32,
    pub length_minutes: u32,
}

impl ShiftTemplate {
    /// True if the shift covers this minute of the day (shifts may wrap past midnight).
    fn covers(&self, minute: usize) -> bool {
        let rel = (minute as i64 - i64::from(self.start_minute)).rem_euclid(MINUTES as i64);
        rel < i64::from(self.length_minutes)
    }
}

/// Draws a shift: 85 % full time (8.5 h), the rest 4.5 h, starting on a quarter hour
/// with probability following the demand at the middle of the shift.
pub(crate) fn sample_shift(rng: &mut SimRng) -> ShiftTemplate {
    let length_minutes = if rng.chance(0.15) { 270 } else { 510 };
    let weights: Vec<f64> = (0..24)
        .map(|h| curve(h * 60 + length_minutes as usize / 2) + 0.02)
        .collect();
    let hour = rng.weighted(&weights) as u32;
    ShiftTemplate {
        start_minute: hour * 60 + 15 * rng.between(0, 3) as u32,
        length_minutes,
    }
}

/// A status period planned inside a shift: offset from login, status, length (ms).
pub(crate) type PlannedStatus = (i64, Status, i64);

/// Breaks, lunch and the odd training session for one shift of `length_ms`.
pub(crate) fn plan_shift(length_ms: i64, rng: &mut SimRng) -> Vec<PlannedStatus> {
    let min = 60_000;
    let mut plan = Vec::new();
    let mut add = |at_min: i64, status, dur_min: i64, rng: &mut SimRng| {
        let at = at_min * min + rng.between(-20, 20) * min + rng.between(0, 59_999);
        let dur = dur_min * min + rng.between(-2, 4) * min + rng.between(0, 59_999);
        plan.push((at.max(10 * min), status, dur));
    };
    if length_ms > 6 * 60 * min {
        add(120, Status::Break, 15, rng);
        add(240, Status::Lunch, 30, rng);
        if rng.chance(0.1) {
            add(320, Status::Training, 45, rng);
        }
        add(400, Status::Break, 15, rng);
    } else {
        add(130, Status::Break, 15, rng);
    }
    plan.retain(|&(at, _, dur)| at + dur < length_ms - 10 * min);
    plan.sort_by_key(|p| p.0);
    plan
}

/// Arrival rates (contacts per second) by minute of the day.
#[derive(Debug, Clone)]
pub(crate) struct Demand {
    /// Inbound contacts of all queues.
    inbound: Vec<f64>,
    /// Outbound call attempts.
    outbound: Vec<f64>,
    /// Relative share of inbound arrivals per queue (0 for the outbound queue).
    pub queue_shares: Vec<f64>,
}

/// Agent-seconds one contact of a queue takes, on average.
fn busy_seconds(center: &Center, queue: usize) -> f64 {
    let q = &center.queues[queue];
    let h = q.handling;
    let holds = h.hold_p / (1.0 - 0.3) * h.hold_s;
    let busy = 6.0 + h.talk_s + holds + h.acw_s;
    match q.medium {
        Medium::Voice => busy,
        Medium::Chat => busy / EFFECTIVE_CHAT_CONCURRENCY,
    }
}

impl Demand {
    pub fn new(center: &Center, peak_occupancy: f64, rng: &mut SimRng) -> Self {
        // Staffed capacity (agents able to take contacts) at each minute of the day.
        let mut capacity = vec![0.0; MINUTES];
        for agent in &center.agents {
            for (m, c) in capacity.iter_mut().enumerate() {
                if agent.shift.covers(m) {
                    *c += 1.0 - SHRINKAGE;
                }
            }
        }
        // Work per queue in proportion to the agents that serve it (each profile's
        // capacity split over its queues, primary queues weighted up).
        let mut work_shares = vec![0.0; center.queues.len()];
        let mut sales_share = 0.0;
        for agent in &center.agents {
            let p = &center.profiles[agent.profile];
            let weights: Vec<f64> = p
                .queues
                .iter()
                .map(|&(_, prio)| if prio == 1 { 3.0 } else { 1.0 })
                .collect();
            let total: f64 = weights.iter().sum();
            for (&(q, _), w) in p.queues.iter().zip(&weights) {
                work_shares[q] += w / total;
            }
            if p.outbound {
                sales_share += 1.0;
            }
        }
        let total_work: f64 = work_shares.iter().sum();
        let n = center.agents.len().max(1) as f64;
        // Offered load (Erlangs) follows the curve, scaled so the tightest busy minute
        // reaches the target occupancy.
        let scale = (0..MINUTES)
            .filter(|&m| curve(m) >= 0.5 && capacity[m] > 0.0)
            .map(|m| capacity[m] / curve(m))
            .fold(f64::INFINITY, f64::min);
        let scale = if scale.is_finite() {
            scale * peak_occupancy
        } else {
            0.0
        };
        // Demand never matches the forecast: each half hour runs some percent above or
        // below plan, which is what builds queues (and abandons) in a well-staffed center.
        let surprise: Vec<f64> = (0..MINUTES / 30)
            .map(|_| rng.lognormal(1.0, FORECAST_ERROR))
            .collect();
        let load: Vec<f64> = (0..MINUTES)
            .map(|m| (scale * curve(m)).min(peak_occupancy * capacity[m]) * surprise[m / 30])
            .collect();

        // Contacts per second = load × share / agent-seconds per contact.
        let per_queue_rate: Vec<f64> = (0..center.queues.len())
            .map(|q| {
                let share = if total_work > 0.0 {
                    work_shares[q] / total_work
                } else {
                    0.0
                };
                share / busy_seconds(center, q)
            })
            .collect();
        let rate_sum: f64 = per_queue_rate.iter().sum();
        let inbound = load.iter().map(|l| l * rate_sum).collect();
        let out_rate =
            OUTBOUND_SHARE * sales_share / n / busy_seconds(center, center.outbound_queue);
        let outbound = load.iter().map(|l| l * out_rate).collect();
        Demand {
            inbound,
            outbound,
            queue_shares: per_queue_rate,
        }
    }

    /// The next inbound arrival after `t` (ms), if before `end`.
    pub fn next_inbound(&self, t: i64, end: i64, rng: &mut SimRng) -> Option<i64> {
        next_poisson(&self.inbound, t, end, rng)
    }

    /// The next outbound call attempt after `t` (ms), if before `end`.
    pub fn next_outbound(&self, t: i64, end: i64, rng: &mut SimRng) -> Option<i64> {
        next_poisson(&self.outbound, t, end, rng)
    }
}

/// Next event of a Poisson process with per-minute-of-day rates (per second).
fn next_poisson(rates: &[f64], mut t: i64, end: i64, rng: &mut SimRng) -> Option<i64> {
    let mut need = rng.exp(1.0); // unit-rate exponential, spent across minutes
    while t < end {
        let minute = (t.div_euclid(60_000)).rem_euclid(MINUTES as i64) as usize;
        let minute_end = (t.div_euclid(60_000) + 1) * 60_000;
        let rate = rates[minute];
        let span_s = (minute_end - t) as f64 / 1000.0;
        if rate * span_s >= need {
            let at = t + ((need / rate) * 1000.0).ceil().max(1.0) as i64;
            return (at < end).then_some(at.min(minute_end));
        }
        need -= rate * span_s;
        t = minute_end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_peaks_mid_morning_and_is_quiet_at_night() {
        assert!(curve(10 * 60) > curve(13 * 60));
        assert!(curve(14 * 60) > curve(12 * 60 + 30));
        assert!(curve(3 * 60) < 0.1);
    }

    #[test]
    fn poisson_rate_is_respected() {
        let mut rng = SimRng::new(3);
        let rates = vec![0.5; MINUTES];
        let (mut t, mut n) = (0, 0);
        while let Some(next) = next_poisson(&rates, t, 3_600_000, &mut rng) {
            assert!(next > t);
            t = next;
            n += 1;
        }
        assert!((1650..1950).contains(&n), "{n}");
        assert_eq!(
            next_poisson(&vec![0.0; MINUTES], 0, 86_400_000, &mut rng),
            None
        );
    }
}
