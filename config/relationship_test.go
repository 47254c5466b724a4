package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/workflows"
)

func TestLoyaltyTiersAndTopicsAreReadAndChecked(t *testing.T) {
	lines := append(slices.Clone(base),
		`loyalty:`,
		`  tiers:`,
		`    - {id: silver, if: customer.orders_count >= 3}`,
		`    - {id: gold, if: customer.orders_count >= 10 || customer.total_spent >= 500}`,
		`topics: {tips: {title: {en: "Tips", ru: "Советы"}}}`)
	c, err := Parse("c.yaml", []byte(strings.Join(lines, "\n")), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	tiers, err := c.TierRules()
	if err != nil || len(tiers) != 2 || tiers[0].ID != "silver" || tiers[1].ID != "gold" {
		t.Fatalf("TierRules() = %+v, %v", tiers, err)
	}
	ok, err := tiers[0].If.Eval(workflows.Env{Customer: map[string]any{"orders_count": 3.0}})
	if err != nil || !ok {
		t.Errorf("silver with 3 orders = %v, %v", ok, err)
	}
	if !c.HasTopic("tips") || !c.HasTopic("service") || c.HasTopic("news") {
		t.Errorf("HasTopic: tips %v service %v news %v; want the listed ones and service only",
			c.HasTopic("tips"), c.HasTopic("service"), c.HasTopic("news"))
	}

	bad := append(slices.Clone(base),
		`loyalty:`,
		`  tiers:`,
		`    - {id: Silver, if: customer.orders_count >= 3}`,
		`    - {id: gold, if: customer.nope +}`,
		`topics: {tips: {}}`)
	_, err = Parse("c.yaml", []byte(strings.Join(bad, "\n")), testEnv)
	for _, want := range []string{
		`c.yaml:17: loyalty.tiers[0].id "Silver"`,
		"c.yaml:18: loyalty.tiers[1].if",
		"c.yaml:19: topics.tips needs a title",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant it to contain %q", err, want)
		}
	}
}

func TestAConfigWithoutTopicsHasTheShippedOnes(t *testing.T) {
	c, err := Parse("c.yaml", []byte(strings.Join(base, "\n")), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"news", "tips", "feedback", "loyalty"} {
		if !c.HasTopic(topic) || c.Topics[topic].Title["ru"] == "" {
			t.Errorf("topic %s missing or without a Russian title: %+v", topic, c.Topics[topic])
		}
	}
}
