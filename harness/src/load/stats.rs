//! Counting what a run did: per status, per request template, and a few error samples.
//! Workers keep their own [`LoadStats`] and the run merges them, so counting needs no locks.

use std::collections::BTreeMap;
use std::time::Duration;

use super::RequestTemplate;

/// How many distinct error messages [`LoadStats::error_samples`] keeps.
const MAX_ERROR_SAMPLES: usize = 5;

/// How one request ended: the status of a complete answer, or why there was none.
pub(super) type Outcome = Result<u16, String>;

/// Requests and failures of one request template.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TemplateStats {
    /// The template's [`RequestTemplate::label`].
    pub label: String,
    /// Requests issued with this template.
    pub requests: u64,
    /// Of those, answers with an unexpected status, and errors.
    pub failures: u64,
}

/// What a run (or several, [merged](LoadStats::merge)) did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadStats {
    /// Requests issued.
    pub requests: u64,
    /// Requests answered with a 2xx status.
    pub ok: u64,
    /// Requests answered with any other status.
    pub non_2xx: u64,
    /// Requests that got no complete answer: connection errors and timeouts.
    pub errors: u64,
    /// Answers whose status the request's template does not expect (`status:`; any 2xx by
    /// default). With the default, these are the non-2xx answers.
    pub unexpected: u64,
    /// The unexpected answers by status code.
    pub unexpected_status_counts: BTreeMap<u16, u64>,
    /// Answers by status code, 2xx included.
    pub status_counts: BTreeMap<u16, u64>,
    /// The first few distinct error messages.
    pub error_samples: Vec<String>,
    /// Wall-clock time of the run(s); serialized as seconds.
    #[serde(serialize_with = "serialize_secs")]
    pub elapsed: Duration,
    /// Counts per request template, in config order.
    pub per_template: Vec<TemplateStats>,
}

fn serialize_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl LoadStats {
    pub(super) fn for_templates(templates: &[RequestTemplate]) -> Self {
        LoadStats {
            per_template: templates
                .iter()
                .map(|t| TemplateStats {
                    label: t.label(),
                    ..TemplateStats::default()
                })
                .collect(),
            ..LoadStats::default()
        }
    }

    /// Answers with an unexpected status plus errors.
    pub fn failures(&self) -> u64 {
        self.unexpected + self.errors
    }

    /// [`failures`](Self::failures) as a fraction of requests; 0 when there were none.
    pub fn failure_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures() as f64 / self.requests as f64
        }
    }

    /// Requests per second of wall-clock time; 0 when no time elapsed.
    pub fn requests_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }

    /// Adds `other`'s counts and elapsed time to these. A per-template entry is added to the
    /// one at the same position when the labels agree, else to the first with its label.
    pub fn merge(&mut self, other: &LoadStats) {
        self.requests += other.requests;
        self.ok += other.ok;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        self.unexpected += other.unexpected;
        for (status, n) in &other.status_counts {
            *self.status_counts.entry(*status).or_default() += n;
        }
        for (status, n) in &other.unexpected_status_counts {
            *self.unexpected_status_counts.entry(*status).or_default() += n;
        }
        for message in &other.error_samples {
            self.add_error_sample(message);
        }
        self.elapsed += other.elapsed;
        for (position, theirs) in other.per_template.iter().enumerate() {
            let same_position = self.per_template.get(position).map(|t| &t.label);
            let mine = if same_position == Some(&theirs.label) {
                self.per_template.get_mut(position)
            } else {
                self.per_template
                    .iter_mut()
                    .find(|t| t.label == theirs.label)
            };
            match mine {
                Some(mine) => {
                    mine.requests += theirs.requests;
                    mine.failures += theirs.failures;
                }
                None => self.per_template.push(theirs.clone()),
            }
        }
    }

    pub(super) fn add_error_sample(&mut self, message: &str) {
        if self.error_samples.len() < MAX_ERROR_SAMPLES
            && !self.error_samples.iter().any(|m| m == message)
        {
            self.error_samples.push(message.to_owned());
        }
    }

    /// Counts one request of template number `template`; `expected` tells whether its
    /// template accepts a status. `true` when it failed.
    pub(super) fn record(
        &mut self,
        template: usize,
        outcome: Outcome,
        expected: impl Fn(u16) -> bool,
    ) -> bool {
        self.requests += 1;
        let failed = match outcome {
            Ok(status) => {
                *self.status_counts.entry(status).or_default() += 1;
                if (200..300).contains(&status) {
                    self.ok += 1;
                } else {
                    self.non_2xx += 1;
                }
                let failed = !expected(status);
                if failed {
                    self.unexpected += 1;
                    *self.unexpected_status_counts.entry(status).or_default() += 1;
                }
                failed
            }
            Err(message) => {
                self.errors += 1;
                self.add_error_sample(&message);
                true
            }
        };
        if let Some(t) = self.per_template.get_mut(template) {
            t.requests += 1;
            t.failures += u64::from(failed);
        }
        failed
    }
}
