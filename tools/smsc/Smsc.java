// A test SMS centre (SMSC) built on jSMPP (org.jsmpp:jsmpp), a maintained Java SMPP 3.4
// implementation, playing the operator's side for the OTP service's SMPP sender tests.
// It is not the platform's code and not the sender's library, so the two ends of the
// tests' SMPP sessions are independent implementations of the protocol.
//
//   java -cp <jars>:<classes> Smsc <system id> <password>
//
// It listens on an ephemeral loopback port and speaks one JSON object a line on stdout:
//   {"event":"listening","port":N}
//   {"event":"bound","bindType":"BIND_TRX","systemId":"..."}  (or "bind_refused")
//   {"event":"submit","seq":N,"status":"ESME_ROK","messageId":"...","sourceAddr":"...",
//    "destAddr":"...","registeredDelivery":1,"dataCoding":0,"text":"...",
//    "tlvs":{"1400":"...","1401":"..."}}
//   {"event":"receipt","messageId":"..."}                   (a delivery receipt sent)
//   {"event":"dropped","seq":N}                              (the line cut, no answer)
//   {"event":"enquire_link"}                                 (a keep-alive answered)
//   {"event":"closed"}                                       (a session ended)
// and reads commands, one a line, on stdin, each applying to the submits that follow:
//   throttle N          answer the next N submits ESME_RTHROTTLED
//   reject-dest ADDR    answer every submit to ADDR ESME_RINVDSTADR
//   drop-next           cut the connection on the next submit, without answering it
// Every answer goes out once the command that asked for it is acknowledged:
//   {"event":"ok","command":"..."}
import java.io.BufferedReader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jsmpp.SMPPConstant;
import org.jsmpp.bean.BindType;
import org.jsmpp.bean.BroadcastSm;
import org.jsmpp.bean.CancelBroadcastSm;
import org.jsmpp.bean.CancelSm;
import org.jsmpp.bean.DataCodings;
import org.jsmpp.bean.DataSm;
import org.jsmpp.bean.DeliveryReceipt;
import org.jsmpp.bean.ESMClass;
import org.jsmpp.bean.EnquireLink;
import org.jsmpp.bean.GSMSpecificFeature;
import org.jsmpp.bean.MessageMode;
import org.jsmpp.bean.MessageType;
import org.jsmpp.bean.NumberingPlanIndicator;
import org.jsmpp.bean.OptionalParameter;
import org.jsmpp.bean.QueryBroadcastSm;
import org.jsmpp.bean.QuerySm;
import org.jsmpp.bean.RegisteredDelivery;
import org.jsmpp.bean.ReplaceSm;
import org.jsmpp.bean.SMSCDeliveryReceipt;
import org.jsmpp.bean.SubmitMulti;
import org.jsmpp.bean.SubmitSm;
import org.jsmpp.bean.TypeOfNumber;
import org.jsmpp.extra.ProcessRequestException;
import org.jsmpp.session.BindRequest;
import org.jsmpp.session.BroadcastSmResult;
import org.jsmpp.session.DataSmResult;
import org.jsmpp.session.QueryBroadcastSmResult;
import org.jsmpp.session.QuerySmResult;
import org.jsmpp.session.SMPPServerSession;
import org.jsmpp.session.SMPPServerSessionListener;
import org.jsmpp.session.ServerMessageReceiverListener;
import org.jsmpp.session.Session;
import org.jsmpp.session.SubmitMultiResult;
import org.jsmpp.session.SubmitSmResult;
import org.jsmpp.session.connection.ServerConnection;
import org.jsmpp.session.connection.ServerConnectionFactory;
import org.jsmpp.session.connection.socket.ServerSocketConnection;
import org.jsmpp.util.DeliveryReceiptState;
import org.jsmpp.util.MessageId;

public final class Smsc implements ServerMessageReceiverListener {
  private final String systemId;
  private final String password;
  private final AtomicInteger throttleNext = new AtomicInteger();
  private final Set<String> rejectedDestinations = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean dropNext = new AtomicBoolean();
  private final AtomicLong submits = new AtomicLong();
  private final AtomicLong messageIds = new AtomicLong(0x5A0000);
  private final ScheduledExecutorService receipts = Executors.newSingleThreadScheduledExecutor();

  private Smsc(String systemId, String password) {
    this.systemId = systemId;
    this.password = password;
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: Smsc <system id> <password>");
      System.exit(2);
    }
    Smsc smsc = new Smsc(args[0], args[1]);
    // Loopback only, on a port the system picks: jSMPP's listener is handed the socket.
    ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    ServerConnectionFactory bound = new ServerConnectionFactory() {
      @Override
      public ServerConnection listen(int port) {
        return new ServerSocketConnection(socket);
      }

      @Override
      public ServerConnection listen(int port, int timeout) throws IOException {
        socket.setSoTimeout(timeout);
        return new ServerSocketConnection(socket);
      }

      @Override
      public ServerConnection listen(int port, int timeout, int backlog) throws IOException {
        return listen(port, timeout);
      }
    };
    SMPPServerSessionListener listener = new SMPPServerSessionListener(socket.getLocalPort(), bound);
    listener.setMessageReceiverListener(smsc);
    emit(Map.of("event", "listening", "port", socket.getLocalPort()));
    Thread commands = new Thread(smsc::readCommands, "commands");
    commands.setDaemon(true);
    commands.start();
    while (true) {
      SMPPServerSession session = listener.accept();
      Thread binder = new Thread(() -> smsc.bind(session), "bind");
      binder.setDaemon(true);
      binder.start();
    }
  }

  private void bind(SMPPServerSession session) {
    try {
      BindRequest request = session.waitForBind(5_000);
      if (!systemId.equals(request.getSystemId()) || !password.equals(request.getPassword())) {
        request.reject(SMPPConstant.STAT_ESME_RINVPASWD);
        emit(Map.of("event", "bind_refused", "systemId", request.getSystemId()));
        return;
      }
      request.accept("test-smsc");
      emit(Map.of("event", "bound", "bindType", request.getBindType().name(), "systemId", request.getSystemId()));
      session.addSessionStateListener((newState, oldState, source) -> {
        if (!newState.isBound() && oldState.isBound()) emit(Map.of("event", "closed"));
      });
    } catch (Exception e) {
      System.err.println("bind failed: " + e);
      session.close();
    }
  }

  private void readCommands() {
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        String[] parts = line.trim().split("\\s+", 2);
        switch (parts[0]) {
          case "throttle" -> throttleNext.set(Integer.parseInt(parts[1]));
          case "reject-dest" -> rejectedDestinations.add(parts[1]);
          case "drop-next" -> dropNext.set(true);
          default -> {
            System.err.println("unknown command: " + line);
            continue;
          }
        }
        emit(Map.of("event", "ok", "command", parts[0]));
      }
    } catch (Exception e) {
      System.err.println("command reader: " + e);
    }
    // stdin closed: the test is done with this SMSC.
    System.exit(0);
  }

  @Override
  public SubmitSmResult onAcceptSubmitSm(SubmitSm submit, SMPPServerSession source)
      throws ProcessRequestException {
    long seq = submits.incrementAndGet();
    Map<String, Object> seen = new TreeMap<>();
    seen.put("event", "submit");
    seen.put("seq", seq);
    seen.put("sourceAddr", submit.getSourceAddr());
    seen.put("sourceAddrTon", submit.getSourceAddrTon());
    seen.put("destAddr", submit.getDestAddress());
    seen.put("registeredDelivery", submit.getRegisteredDelivery());
    seen.put("dataCoding", submit.getDataCoding());
    seen.put("text", new String(submit.getShortMessage(), StandardCharsets.ISO_8859_1));
    Map<String, String> tlvs = new TreeMap<>();
    if (submit.getOptionalParameters() != null) {
      for (OptionalParameter tlv : submit.getOptionalParameters()) {
        byte[] bytes = tlv.serialize();
        // tag (2), length (2), value
        tlvs.put(String.format("%04x", tlv.tag), new String(bytes, 4, bytes.length - 4, StandardCharsets.ISO_8859_1));
      }
    }
    seen.put("tlvs", tlvs);

    if (dropNext.compareAndSet(true, false)) {
      seen.put("status", "DROPPED");
      emit(seen);
      // Cut the line with the submit unanswered: the sender cannot know whether it was taken.
      source.close();
      emit(Map.of("event", "dropped", "seq", seq));
      throw new ProcessRequestException("connection dropped", SMPPConstant.STAT_ESME_RSYSERR);
    }
    if (throttleNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      seen.put("status", "ESME_RTHROTTLED");
      emit(seen);
      throw new ProcessRequestException("throttled", SMPPConstant.STAT_ESME_RTHROTTLED);
    }
    if (rejectedDestinations.contains(submit.getDestAddress())) {
      seen.put("status", "ESME_RINVDSTADR");
      emit(seen);
      throw new ProcessRequestException("invalid destination", SMPPConstant.STAT_ESME_RINVDSTADR);
    }
    String messageId = Long.toHexString(messageIds.incrementAndGet());
    seen.put("status", "ESME_ROK");
    seen.put("messageId", messageId);
    emit(seen);
    if (SMSCDeliveryReceipt.SUCCESS_FAILURE.containedIn(submit.getRegisteredDelivery())
        || SMSCDeliveryReceipt.SUCCESS.containedIn(submit.getRegisteredDelivery())) {
      // After the submit_sm_resp has gone out, as a real centre's receipt follows delivery.
      receipts.schedule(() -> sendReceipt(source, submit, messageId), 100, TimeUnit.MILLISECONDS);
    }
    try {
      return new SubmitSmResult(new MessageId(messageId), new OptionalParameter[0]);
    } catch (org.jsmpp.PDUStringException e) {
      throw new ProcessRequestException("message id", SMPPConstant.STAT_ESME_RSYSERR);
    }
  }

  private void sendReceipt(SMPPServerSession session, SubmitSm submit, String messageId) {
    try {
      Date now = new Date();
      DeliveryReceipt receipt =
          new DeliveryReceipt(messageId, 1, 1, now, now, DeliveryReceiptState.DELIVRD, "000", "");
      session.deliverShortMessage(
          "",
          TypeOfNumber.valueOf(submit.getDestAddrTon()),
          NumberingPlanIndicator.valueOf(submit.getDestAddrNpi()),
          submit.getDestAddress(),
          TypeOfNumber.valueOf(submit.getSourceAddrTon()),
          NumberingPlanIndicator.valueOf(submit.getSourceAddrNpi()),
          submit.getSourceAddr(),
          new ESMClass(MessageMode.DEFAULT, MessageType.SMSC_DEL_RECEIPT, GSMSpecificFeature.DEFAULT),
          (byte) 0,
          (byte) 0,
          new RegisteredDelivery(0),
          DataCodings.ZERO,
          receipt.toString().getBytes(StandardCharsets.US_ASCII),
          new OptionalParameter.Receipted_message_id(messageId),
          new OptionalParameter.Message_state((byte) 2));
      emit(Map.of("event", "receipt", "messageId", messageId));
    } catch (Exception e) {
      System.err.println("receipt for " + messageId + " not sent: " + e);
    }
  }

  @Override
  public SubmitMultiResult onAcceptSubmitMulti(SubmitMulti submitMulti, SMPPServerSession source)
      throws ProcessRequestException {
    throw notSupported();
  }

  @Override
  public QuerySmResult onAcceptQuerySm(QuerySm querySm, SMPPServerSession source)
      throws ProcessRequestException {
    throw notSupported();
  }

  @Override
  public void onAcceptReplaceSm(ReplaceSm replaceSm, SMPPServerSession source)
      throws ProcessRequestException {
    throw notSupported();
  }

  @Override
  public void onAcceptCancelSm(CancelSm cancelSm, SMPPServerSession source)
      throws ProcessRequestException {
    throw notSupported();
  }

  @Override
  public BroadcastSmResult onAcceptBroadcastSm(BroadcastSm broadcastSm, SMPPServerSession source)
      throws ProcessRequestException {
    throw notSupported();
  }

  @Override
  public void onAcceptCancelBroadcastSm(CancelBroadcastSm cancel, SMPPServerSession source)
      throws ProcessRequestException {
    throw notSupported();
  }

  @Override
  public QueryBroadcastSmResult onAcceptQueryBroadcastSm(QueryBroadcastSm query, SMPPServerSession source)
      throws ProcessRequestException {
    throw notSupported();
  }

  @Override
  public void onAcceptEnquireLink(EnquireLink enquireLink, Session source) {
    emit(Map.of("event", "enquire_link"));
  }

  @Override
  public DataSmResult onAcceptDataSm(DataSm dataSm, Session source) throws ProcessRequestException {
    throw notSupported();
  }

  /** The answer to every operation a test centre has no use for: ESME_RINVCMDID. */
  private static ProcessRequestException notSupported() {
    return new ProcessRequestException("not supported", SMPPConstant.STAT_ESME_RINVCMDID);
  }

  /** One JSON object a line; values are strings, numbers or a map of strings. */
  private static synchronized void emit(Map<String, ?> fields) {
    StringBuilder out = new StringBuilder("{");
    boolean first = true;
    for (Map.Entry<String, ?> field : new TreeMap<>(fields).entrySet()) {
      if (!first) out.append(',');
      first = false;
      out.append(json(field.getKey())).append(':').append(value(field.getValue()));
    }
    System.out.println(out.append('}'));
    System.out.flush();
  }

  private static String value(Object value) {
    if (value instanceof Number) return value.toString();
    if (value instanceof Map<?, ?> map) {
      StringBuilder out = new StringBuilder("{");
      boolean first = true;
      for (Map.Entry<?, ?> entry : map.entrySet()) {
        if (!first) out.append(',');
        first = false;
        out.append(json(String.valueOf(entry.getKey()))).append(':').append(json(String.valueOf(entry.getValue())));
      }
      return out.append('}').toString();
    }
    return json(String.valueOf(value));
  }

  private static String json(String text) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : text.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        default -> {
          if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
          else out.append(c);
        }
      }
    }
    return out.append('"').toString();
  }
}
