// A minimal H323Plus endpoint for h323/interop/h323plus.sh: calls one alias with G.711, prints
// ESTABLISHED and each logical channel it starts, and hangs up after the given seconds.
#include <ptlib.h>
#include <ptlib/pprocess.h>
#include <h323.h>
#include <h323con.h>

class SilenceChannel : public PChannel {
  PCLASSINFO(SilenceChannel, PChannel);
 public:
  SilenceChannel() { os_handle = 1; }
  PBoolean Read(void * buf, PINDEX len) { memset(buf, 0, len); lastReadCount = len; rd.Delay(len / 16); return true; }
  PBoolean Write(const void *, PINDEX len) { lastWriteCount = len; wr.Delay(len / 16); return true; }
  PBoolean Close() { os_handle = -1; return true; }
  PAdaptiveDelay rd, wr;
};

class ProbeEP : public H323EndPoint {
  PCLASSINFO(ProbeEP, H323EndPoint);
 public:
  PSyncPoint cleared;
  bool established = false;
  PBoolean OpenAudioChannel(H323Connection &, PBoolean, unsigned, H323AudioCodec & codec) {
    return codec.AttachChannel(new SilenceChannel, true);
  }
  void OnConnectionEstablished(H323Connection & c, const PString &) {
    established = true;
    cout << "ESTABLISHED remote=" << c.GetRemotePartyName() << " app=" << c.GetRemoteApplication() << endl;
  }
  PBoolean OnStartLogicalChannel(H323Connection & c, H323Channel & ch) {
    cout << "CHANNEL " << (ch.GetDirection() == H323Channel::IsTransmitter ? "tx " : "rx ") << ch.GetCapability().GetFormatName() << endl;
    return H323EndPoint::OnStartLogicalChannel(c, ch);
  }
  void OnConnectionCleared(H323Connection & c, const PString &) {
    cout << "CLEARED reason=" << c.GetCallEndReason() << " q931=" << c.GetQ931Cause() << endl;
    cleared.Signal();
  }
};

class Probe : public PProcess {
  PCLASSINFO(Probe, PProcess)
 public:
  Probe() : PProcess("tessera", "h323plus-probe") {}
  void Main() {
    PArgList & args = GetArguments();
    if (args.GetCount() < 2) { cerr << "usage: probe DEST SECONDS [nofast] [notunnel]" << endl; SetTerminationValue(2); return; }
    ProbeEP ep;
    ep.SetLocalUserName("h323plus-probe");
    ep.SetCapability(0, 0, new H323_G711Capability(H323_G711Capability::muLaw));
    for (PINDEX i = 2; i < args.GetCount(); i++) {
      if (args[i] == "nofast") ep.DisableFastStart(true);
      if (args[i] == "notunnel") ep.DisableH245Tunneling(true);
    }
    PString token;
    if (ep.MakeCall(args[0], token) == NULL) { cout << "MAKECALL FAILED" << endl; SetTerminationValue(1); return; }
    if (!ep.cleared.Wait(PTimeInterval(0, args[1].AsInteger()))) {
      cout << "HANGING UP" << endl;
      ep.ClearCall(token);
      ep.cleared.Wait(PTimeInterval(0, 10));
    }
    SetTerminationValue(ep.established ? 0 : 1);
  }
};

PCREATE_PROCESS(Probe)
