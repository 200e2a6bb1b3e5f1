//! The four-item match over a whole registered population: recall and precision.
//!
//! `data/registered.tsv` is the population (632 invented residents in 13 municipalities, with
//! namesakes, twins, parents and children of one name at one address, old kanji forms as
//! registered, former surnames and compatibility ideographs); `data/queries.tsv` holds the
//! queries as an agency's clerk would type them, each with the resident it should find or `-`
//! (not registered, or nobody can tell who), labelled by the variant or look-alike it tests.
//! Both were written by `data/make_pairs.py`, a one-off generator kept beside them.
//!
//! Every query is ranked against every registered resident (`matching::evaluation`): no
//! pre-filtering to the right one. Recall is, of the queries whose person is registered, the
//! share confidently matched to them; precision is, of the confident matches, the share that
//! are right. Run
//! `cargo test -p matching --test pairs -- --nocapture` to see the figures and the count per
//! kind.

use matching::evaluation::evaluate;

const REGISTERED: &str = include_str!("data/registered.tsv");
const QUERIES: &str = include_str!("data/queries.tsv");

#[test]
fn recall_and_precision_over_the_whole_population() {
    let evaluation = evaluate(REGISTERED, QUERIES).unwrap_or_else(|e| panic!("{e}"));
    assert!(evaluation.residents >= 600, "{}", evaluation.residents);
    println!("{:<34} {:>7} {:>8} {:>6} {:>6}", "kind", "queries", "positive", "found", "wrong");
    for (kind, t) in &evaluation.by_kind {
        println!("{kind:<34} {:>7} {:>8} {:>6} {:>6}", t.queries, t.positive, t.found, t.wrong);
    }
    let total = evaluation.total;
    let (recall, precision) = (total.recall(), total.precision());
    println!(
        "{} queries ({} of registered people) over {} residents: recall {:.2} % ({}/{}), \
         precision {:.2} % ({}/{})",
        total.queries,
        total.positive,
        evaluation.residents,
        recall * 100.0,
        total.found,
        total.positive,
        precision * 100.0,
        total.found,
        total.confident
    );
    for m in &evaluation.misses {
        println!("{m}");
    }
    assert!(total.positive >= 300, "at least 300 pairs");
    assert!(recall >= 0.99, "recall {recall}");
    assert!(precision >= 0.999, "precision {precision}");
}
