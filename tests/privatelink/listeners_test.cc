// ListenerSet: desired specs in, open/close calls out, through a recording opener (no sockets,
// no namespaces, no root).
#include "privatelink/listeners.h"

#include <gtest/gtest.h>

#include <set>

namespace cove::privatelink {
namespace {

// Records what is open; Open fails for addresses listed in `refuse`.
class RecordingOpener final : public ListenerOpener {
 public:
  class Recorded final : public OpenListener {
   public:
    Recorded(RecordingOpener& opener, std::string key) : opener_(opener), key_(std::move(key)) {}
    ~Recorded() override {
      opener_.open.erase(key_);
      opener_.closes.push_back(key_);
    }

   private:
    RecordingOpener& opener_;
    std::string key_;
  };

  Result<OpenListenerPtr> Open(const ListenerSpec& spec) override {
    opens.push_back(spec.Key());
    if (refuse.count(spec.address)) return Fail(Code::kIOError, "bind: address not available");
    EXPECT_TRUE(open.insert(spec.Key()).second) << "opened twice: " << spec.Key();
    return std::make_unique<Recorded>(*this, spec.Key());
  }

  std::set<std::string> open;
  std::set<std::string> refuse;
  std::vector<std::string> opens;   // every Open call, in order
  std::vector<std::string> closes;  // every close, in order
};

ListenerSpec Endpoint(std::string ip, uint32_t link_id, std::string inode = "100") {
  return {.ns = "cove-n1",
          .ns_instance = std::move(inode),
          .address = std::move(ip),
          .port = 443,
          .link_id = link_id,
          .tls = true};
}
ListenerSpec Public(std::string ip) {
  return {.ns = "cove-npub",
          .ns_instance = "7",
          .address = std::move(ip),
          .port = 443,
          .link_id = std::nullopt,
          .tls = true};
}

TEST(ListenerSetTest, OpensWhatIsWantedOnceAndIsIdempotent) {
  RecordingOpener opener;
  ListenerSet set(opener);
  std::vector<ListenerSpec> want = {Endpoint("10.0.0.5", 7), Endpoint("10.0.0.6", 7),
                                    Public("203.0.113.20"), Endpoint("10.0.0.5", 7)};
  ListenerChanges first = set.Reconcile(want);
  EXPECT_EQ(first.opened.size(), 3u);  // the duplicate counts once
  EXPECT_TRUE(first.closed.empty());
  EXPECT_TRUE(first.failed.empty());
  EXPECT_EQ(opener.open.size(), 3u);
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.IsOpen(Public("203.0.113.20")));

  ListenerChanges again = set.Reconcile(want);
  EXPECT_TRUE(again.opened.empty());
  EXPECT_TRUE(again.closed.empty());
  EXPECT_EQ(opener.opens.size(), 3u);
  EXPECT_TRUE(opener.closes.empty());
}

TEST(ListenerSetTest, ClosesRemovedEndpointsBeforeOpening) {
  RecordingOpener opener;
  ListenerSet set(opener);
  set.Reconcile({Endpoint("10.0.0.5", 7), Endpoint("10.0.0.6", 7), Public("203.0.113.20")});
  // The endpoint's data member goes; another endpoint comes.
  ListenerChanges changes =
      set.Reconcile({Endpoint("10.0.0.5", 7), Public("203.0.113.20"), Endpoint("10.0.0.9", 8)});
  ASSERT_EQ(changes.closed.size(), 1u);
  EXPECT_EQ(changes.closed[0].address, "10.0.0.6");
  ASSERT_EQ(changes.opened.size(), 1u);
  EXPECT_EQ(changes.opened[0].address, "10.0.0.9");
  EXPECT_EQ(opener.closes, std::vector<std::string>{Endpoint("10.0.0.6", 7).Key()});

  set.Reconcile({});
  EXPECT_TRUE(opener.open.empty());
  EXPECT_EQ(set.size(), 0u);
}

TEST(ListenerSetTest, ANewNamespaceInstanceOrLinkIdGetsFreshSockets) {
  RecordingOpener opener;
  ListenerSet set(opener);
  set.Reconcile({Endpoint("10.0.0.5", 7, "100")});
  // The VNet was deleted and created again under the same name: a new inode.
  ListenerChanges recreated = set.Reconcile({Endpoint("10.0.0.5", 7, "200")});
  EXPECT_EQ(recreated.closed.size(), 1u);
  EXPECT_EQ(recreated.opened.size(), 1u);
  // The old one is closed before the new one opens (the address is free again).
  ASSERT_EQ(opener.closes.size(), 1u);
  EXPECT_EQ(opener.opens.back(), Endpoint("10.0.0.5", 7, "200").Key());
  // Another private endpoint took the address: another link id, another listener.
  ListenerChanges relinked = set.Reconcile({Endpoint("10.0.0.5", 9, "200")});
  EXPECT_EQ(relinked.closed.size(), 1u);
  EXPECT_EQ(relinked.opened.size(), 1u);
  EXPECT_EQ(*relinked.opened[0].link_id, 9u);
}

TEST(ListenerSetTest, AFailedOpenIsRetriedNextTime) {
  RecordingOpener opener;
  opener.refuse = {"10.0.0.6"};
  ListenerSet set(opener);
  ListenerChanges first = set.Reconcile({Endpoint("10.0.0.5", 7), Endpoint("10.0.0.6", 7)});
  EXPECT_EQ(first.opened.size(), 1u);
  ASSERT_EQ(first.failed.size(), 1u);
  EXPECT_EQ(first.failed[0].first.address, "10.0.0.6");
  EXPECT_EQ(first.failed[0].second.code, Code::kIOError);
  EXPECT_FALSE(set.IsOpen(Endpoint("10.0.0.6", 7)));

  opener.refuse.clear();
  ListenerChanges second = set.Reconcile({Endpoint("10.0.0.5", 7), Endpoint("10.0.0.6", 7)});
  ASSERT_EQ(second.opened.size(), 1u);
  EXPECT_EQ(second.opened[0].address, "10.0.0.6");
  EXPECT_TRUE(second.failed.empty());
}

TEST(ListenerSetTest, ClearAndDestructionCloseEverything) {
  RecordingOpener opener;
  {
    ListenerSet set(opener);
    set.Reconcile({Endpoint("10.0.0.5", 7), Public("203.0.113.20")});
    set.Clear();
    EXPECT_TRUE(opener.open.empty());
    set.Reconcile({Endpoint("10.0.0.5", 7)});
    EXPECT_EQ(opener.open.size(), 1u);
  }
  EXPECT_TRUE(opener.open.empty());
  EXPECT_EQ(opener.closes.size(), 3u);
}

TEST(ListenerSpecTest, KeySaysEverythingThatMakesAListenerDifferent) {
  ListenerSpec a = Endpoint("10.0.0.5", 7);
  std::set<std::string> keys = {a.Key()};
  ListenerSpec b = a;
  b.port = 80;
  keys.insert(b.Key());
  b = a;
  b.tls = false;
  keys.insert(b.Key());
  b = a;
  b.device = "lo";
  keys.insert(b.Key());
  b = a;
  b.tag = "machine";
  keys.insert(b.Key());
  b = a;
  b.link_id.reset();
  keys.insert(b.Key());
  b = a;
  b.ns = "cove-n2";
  keys.insert(b.Key());
  EXPECT_EQ(keys.size(), 7u);
  EXPECT_EQ(a.Key(), "cove-n1@100/10.0.0.5:443/7+tls");
}

}  // namespace
}  // namespace cove::privatelink
