// Command rollouts-gatewayapi-router is an Argo Rollouts traffic-router plugin that sets the
// canary and stable weights of Gateway API HTTPRoutes. It is a stand-in for the upstream plugin
// (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi), whose module the Go module proxy
// does not serve here: it registers under the same name (argoproj-labs/gatewayAPI) and reads the
// same configuration keys (httpRoute, httpRoutes[].name, namespace), so a Rollout written for the
// upstream plugin runs unchanged under it, and a cluster swaps in the upstream binary by the
// location in argo-rollouts-config alone. It implements setWeight only (what our Rollouts use):
// header routes, mirror routes, GRPC/TCP/TLS routes and route selectors are refused or ignored.
//
// The controller starts it as a subprocess (hashicorp/go-plugin over net/rpc, Argo Rollouts'
// own RpcTrafficRouterPlugin); it reaches the API server with the default client loading
// rules (KUBECONFIG, else the pod's service account).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	rolloutsPlugin "github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	pluginTypes "github.com/argoproj/argo-rollouts/utils/plugin/types"
	goPlugin "github.com/hashicorp/go-plugin"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

// PluginName is the upstream plugin's name, the key under trafficRouting.plugins.
const PluginName = "argoproj-labs/gatewayAPI"

var httpRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// Config is the subset of the upstream plugin's configuration that this stand-in reads.
type Config struct {
	HTTPRoute  string `json:"httpRoute,omitempty"`
	HTTPRoutes []struct {
		Name string `json:"name"`
	} `json:"httpRoutes,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

type router struct {
	client dynamic.Interface
}

func fail(format string, args ...any) pluginTypes.RpcError {
	return pluginTypes.RpcError{ErrorString: fmt.Sprintf(format, args...)}
}

func (r *router) InitPlugin() pluginTypes.RpcError {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fail("kube config: %v", err)
	}
	cfg.Timeout = 30 * time.Second
	r.client, err = dynamic.NewForConfig(cfg)
	if err != nil {
		return fail("kube client: %v", err)
	}
	return pluginTypes.RpcError{}
}

func config(ro *v1alpha1.Rollout) (Config, []string, error) {
	var c Config
	if ro.Spec.Strategy.Canary == nil || ro.Spec.Strategy.Canary.TrafficRouting == nil {
		return c, nil, fmt.Errorf("rollout %s has no canary trafficRouting", ro.Name)
	}
	raw, ok := ro.Spec.Strategy.Canary.TrafficRouting.Plugins[PluginName]
	if !ok {
		return c, nil, fmt.Errorf("rollout %s has no %s configuration", ro.Name, PluginName)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, nil, fmt.Errorf("%s configuration: %w", PluginName, err)
	}
	if c.Namespace == "" {
		c.Namespace = ro.Namespace
	}
	var names []string
	if c.HTTPRoute != "" {
		names = append(names, c.HTTPRoute)
	}
	for _, h := range c.HTTPRoutes {
		names = append(names, h.Name)
	}
	if len(names) == 0 {
		return c, nil, fmt.Errorf("%s configuration names no HTTPRoute (only httpRoute / httpRoutes are supported)", PluginName)
	}
	return c, names, nil
}

// setRouteWeights writes canary = weight and stable = 100 - weight on every backendRef of the
// route that names the Rollout's canary or stable Service; both must be found.
func (r *router) setRouteWeights(ctx context.Context, ns, name, canary, stable string, weight int32) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		route, err := r.client.Resource(httpRoutes).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rules, _, err := unstructured.NestedSlice(route.Object, "spec", "rules")
		if err != nil {
			return fmt.Errorf("HTTPRoute %s/%s: %w", ns, name, err)
		}
		canaryFound, stableFound := false, false
		for i, rule := range rules {
			ruleMap, ok := rule.(map[string]any)
			if !ok {
				continue
			}
			refs, _, _ := unstructured.NestedSlice(ruleMap, "backendRefs")
			for j, ref := range refs {
				refMap, ok := ref.(map[string]any)
				if !ok {
					continue
				}
				switch refMap["name"] {
				case canary:
					refMap["weight"] = int64(weight)
					canaryFound = true
				case stable:
					refMap["weight"] = int64(100 - weight)
					stableFound = true
				}
				refs[j] = refMap
			}
			ruleMap["backendRefs"] = refs
			rules[i] = ruleMap
		}
		if !canaryFound || !stableFound {
			return fmt.Errorf("HTTPRoute %s/%s has no backendRef of both %s and %s", ns, name, canary, stable)
		}
		if err := unstructured.SetNestedSlice(route.Object, rules, "spec", "rules"); err != nil {
			return err
		}
		_, err = r.client.Resource(httpRoutes).Namespace(ns).Update(ctx, route, metav1.UpdateOptions{})
		return err
	})
}

func (r *router) SetWeight(ro *v1alpha1.Rollout, desiredWeight int32, additionalDestinations []v1alpha1.WeightDestination) pluginTypes.RpcError {
	if len(additionalDestinations) > 0 {
		return fail("%s stand-in: additional destinations (experiments) are not supported", PluginName)
	}
	c, names, err := config(ro)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	canary, stable := ro.Spec.Strategy.Canary.CanaryService, ro.Spec.Strategy.Canary.StableService
	for _, name := range names {
		if err := r.setRouteWeights(ctx, c.Namespace, name, canary, stable, desiredWeight); err != nil {
			return fail("%v", err)
		}
	}
	return pluginTypes.RpcError{}
}

func (r *router) SetHeaderRoute(ro *v1alpha1.Rollout, headerRouting *v1alpha1.SetHeaderRoute) pluginTypes.RpcError {
	return fail("%s stand-in: setHeaderRoute is not supported", PluginName)
}

func (r *router) SetMirrorRoute(ro *v1alpha1.Rollout, setMirrorRoute *v1alpha1.SetMirrorRoute) pluginTypes.RpcError {
	return fail("%s stand-in: setMirrorRoute is not supported", PluginName)
}

// VerifyWeight: the weights are the route's spec, which the update above wrote; there is no
// data-plane status to compare with.
func (r *router) VerifyWeight(ro *v1alpha1.Rollout, desiredWeight int32, additionalDestinations []v1alpha1.WeightDestination) (pluginTypes.RpcVerified, pluginTypes.RpcError) {
	return pluginTypes.NotImplemented, pluginTypes.RpcError{}
}

func (r *router) UpdateHash(ro *v1alpha1.Rollout, canaryHash, stableHash string, additionalDestinations []v1alpha1.WeightDestination) pluginTypes.RpcError {
	return pluginTypes.RpcError{}
}

// RemoveManagedRoutes: this stand-in adds no routes of its own, so there is nothing to remove.
func (r *router) RemoveManagedRoutes(ro *v1alpha1.Rollout) pluginTypes.RpcError {
	return pluginTypes.RpcError{}
}

func (r *router) Type() string { return "GatewayAPI" }

func main() {
	goPlugin.Serve(&goPlugin.ServeConfig{
		HandshakeConfig: goPlugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
			MagicCookieValue: "trafficrouter",
		},
		Plugins: map[string]goPlugin.Plugin{
			"RpcTrafficRouterPlugin": &rolloutsPlugin.RpcTrafficRouterPlugin{Impl: &router{}},
		},
	})
}
