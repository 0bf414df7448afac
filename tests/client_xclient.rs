//! The client role's XCLIENT (issue 11): a proxy tells the server who the real client
//! is, waits for the new greeting, greets again, and only then sends mail. Against our
//! own server, which trusts it or not.

mod support;

use smtp_sansio::Output;
use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, CloseReason, Envelope, Failure};
use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};
use smtp_sansio::wire::{AttributeValue, ClientAttributes, ForwardPath, ReversePath};
use support::pair::exchange;

fn attributes() -> ClientAttributes {
    let mut attributes = ClientAttributes::default();
    attributes.name = Some(AttributeValue::Value("mail.example.net".into()));
    attributes.addr = Some(AttributeValue::Value("192.0.2.7".into()));
    attributes.helo = Some(AttributeValue::Value("mail.example.net".into()));
    attributes
}

fn message(client: &mut ClientSession) {
    let from = ReversePath::parse("<a@example.net>").unwrap().into_owned();
    let to = ForwardPath::parse("<b@example.org>").unwrap().into_owned();
    client.send(Envelope::new(from, [to]));
    client.quit();
}

fn sessions(trusted: bool) -> (ClientSession, ServerSession) {
    let mut server = ServerSession::new(&ServerConfig::new("mx.example.org").build().unwrap());
    if trusted {
        server.trust_proxy();
    }
    let client = ClientSession::new(&ClientConfig::new("proxy.example").build().unwrap());
    (client, server)
}

#[test]
fn a_proxy_names_the_real_client_then_greets_again() {
    let (mut client, mut server) = sessions(true);
    client.xclient(&attributes()).unwrap();
    message(&mut client);
    let done = exchange(&mut client, &mut server, &|bytes| bytes.to_vec());
    let lines: Vec<&str> = done.client_sent.split("\r\n").collect();
    assert_eq!(
        &lines[..4],
        [
            "EHLO proxy.example",
            "XCLIENT HELO=mail.example.net NAME=mail.example.net ADDR=192.0.2.7",
            "EHLO proxy.example",
            "MAIL FROM:<a@example.net>"
        ],
        "{}",
        done.client_sent
    );
    let named = done.server_events.iter().find_map(|event| match event {
        ServerEvent::Xclient(attributes) => Some(attributes.addr_ip()),
        _ => None,
    });
    assert_eq!(named, Some(Some("192.0.2.7".parse().unwrap())));
    assert!(
        done.client_events.iter().any(|event| matches!(event, ClientEvent::Accepted { .. })),
        "{:?}",
        done.client_events
    );
}

#[test]
fn a_server_that_does_not_offer_xclient_gets_no_mail() {
    let (mut client, mut server) = sessions(false);
    client.xclient(&attributes()).unwrap();
    message(&mut client);
    let done = exchange(&mut client, &mut server, &|bytes| bytes.to_vec());
    assert!(!done.client_sent.contains("XCLIENT") && !done.client_sent.contains("MAIL"), "{}", done.client_sent);
    assert!(done.client_events.iter().any(|event| matches!(
        event,
        ClientEvent::Failed { failure: Failure::SessionEnded(CloseReason::XclientRefused(None)), .. }
    )));
}

#[test]
fn long_attributes_go_over_several_xclient_commands_name_and_addr_last() {
    let (mut client, mut server) = sessions(true);
    let mut long = attributes();
    long.name = Some(AttributeValue::Value(format!("{}.example.net", "n".repeat(200))));
    long.helo = Some(AttributeValue::Value(format!("{}.example.net", "h".repeat(200))));
    long.proto = Some(AttributeValue::Value("ESMTP".into()));
    long.login = Some(AttributeValue::Value("l".repeat(200)));
    client.xclient(&long).unwrap();
    message(&mut client);
    let done = exchange(&mut client, &mut server, &|bytes| bytes.to_vec());
    let xclients: Vec<&str> = done.client_sent.split("\r\n").filter(|line| line.starts_with("XCLIENT ")).collect();
    assert!(xclients.len() >= 2, "{}", done.client_sent);
    assert!(xclients.iter().all(|line| line.len() + 2 <= 512));
    assert!(xclients.last().unwrap().contains(" ADDR=192.0.2.7"), "ADDR last: {xclients:?}");
    assert!(xclients[..xclients.len() - 1].iter().all(|line| !line.contains("ADDR=")));
    assert!(
        done.client_events.iter().any(|event| matches!(event, ClientEvent::Accepted { .. })),
        "{:?}",
        done.client_events
    );
}

#[test]
fn a_refused_xclient_ends_the_session_with_the_reply() {
    let mut client = ClientSession::new(&ClientConfig::new("proxy.example").build().unwrap());
    client.xclient(&attributes()).unwrap();
    message(&mut client);
    let mut sent = String::new();
    let mut events = Vec::new();
    for reply in [
        &b"220 mx.example.net ESMTP\r\n"[..],
        b"250-mx.example.net\r\n250-PIPELINING\r\n250 XCLIENT NAME ADDR HELO\r\n",
        b"550 5.7.0 Insufficient authorization\r\n",
        b"221 2.0.0 Bye\r\n",
    ] {
        client.handle_input(reply);
        loop {
            match client.poll_output() {
                Output::Transmit(bytes) => sent.push_str(std::str::from_utf8(&bytes).unwrap()),
                Output::Event(event) => events.push(event),
                _ => break,
            }
        }
    }
    assert!(!sent.contains("MAIL"), "{sent}");
    let refused = events.iter().find_map(|event| match event {
        ClientEvent::Closed { reason: CloseReason::XclientRefused(Some(reply)) } => Some(reply.code().get()),
        _ => None,
    });
    assert_eq!(refused, Some(550), "{events:?}");
    assert!(events.iter().any(|event| matches!(event, ClientEvent::Failed { failure, .. } if !failure.is_transient())));
}
