// Package policy keeps programmable rules: automations ("when EVENT
// matching CONDITION, do ACTION"), owned by a patient or by an organization
// (through its admin), listed, paused, resumed and deleted by their owner;
// and encounters in progress (policy/admit, policy/discharge), the on-chain
// signal consent conditions read as encounter_orgs.
//
// Conditions are CEL expressions compiled, type-checked and cost-bounded at
// registration (package cond). Automations fire in EndBlock from the
// events of the whole block (sm.EventEndBlocker): each (event, rule) once,
// in block and id order; the action runs as a message executed with the
// owner's authority alone, under sm.Isolate; every firing is a
// policy_fired block event naming its rule and cause. Events the actions
// emit are never fed back, so automations cannot chain or loop; costs are
// charged to a per-block budget (policy.block_cost_budget).
// Deterministic; no I/O.
package policy
