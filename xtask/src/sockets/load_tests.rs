use super::*;

#[test]
fn duplicates_are_told_apart() {
    let mut seen = Seen::default();
    assert!(seen.mark(3) && seen.mark(200) && !seen.mark(3));
    assert_eq!(seen.distinct, 2);
}

#[test]
fn each_stream_is_owed_the_events_of_its_own_topic() {
    let endpoint = Endpoint::new(SocketAddr::from(([127, 0, 0, 1], 1))).spread_over(3);
    assert_eq!((endpoint.topic(4), endpoint.topic(6)), (1, 0));
    let shared = Shared::new(endpoint.topics);
    *shared.accepted.borrow_mut() = vec![2, 1, 0];
    *shared.opened.borrow_mut() = vec![1, 2, 3];
    assert_eq!(shared.owed(&shared.opened), 2 + 2);
    let one_topic = Endpoint::new(SocketAddr::from(([127, 0, 0, 1], 1)));
    assert_eq!(one_topic.topic(12345), 0);
}
