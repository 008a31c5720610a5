package asl

import (
	"fmt"
	"strings"
)

// choiceRule is one entry of a Choice state's Choices: a condition and where it leads.
type choiceRule struct {
	cond condition
	next string
}

// condition is a Choice rule's test. Supported: And, BooleanEquals and IsPresent.
type condition interface {
	test(e *evalEnv) (bool, error)
}

type andCond []condition

func (c andCond) test(e *evalEnv) (bool, error) {
	for _, sub := range c {
		ok, err := sub.test(e)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

type isPresentCond struct {
	p    *path
	want bool
}

func (c isPresentCond) test(e *evalEnv) (bool, error) {
	_, ok := c.p.get(e.input, e.ctx)
	return ok == c.want, nil
}

type booleanEqualsCond struct {
	p    *path
	want bool
}

func (c booleanEqualsCond) test(e *evalEnv) (bool, error) {
	v, ok := c.p.get(e.input, e.ctx)
	if !ok {
		return false, runtimeErrorf("invalid path %s: the choice state's condition path references an undefined value", c.p)
	}
	b, isBool := v.(bool)
	return isBool && b == c.want, nil
}

// comparisonOperators lists the ASL operators, so an unsupported one gets a clear message
// rather than "unknown field".
var comparisonOperators = []string{
	"And", "Or", "Not", "BooleanEquals", "BooleanEqualsPath", "IsBoolean", "IsNull", "IsNumeric",
	"IsPresent", "IsString", "IsTimestamp", "NumericEquals", "NumericEqualsPath",
	"NumericGreaterThan", "NumericGreaterThanPath", "NumericGreaterThanEquals",
	"NumericGreaterThanEqualsPath", "NumericLessThan", "NumericLessThanPath",
	"NumericLessThanEquals", "NumericLessThanEqualsPath", "StringEquals", "StringEqualsPath",
	"StringGreaterThan", "StringGreaterThanPath", "StringGreaterThanEquals",
	"StringGreaterThanEqualsPath", "StringLessThan", "StringLessThanPath", "StringLessThanEquals",
	"StringLessThanEqualsPath", "StringMatches", "TimestampEquals", "TimestampEqualsPath",
	"TimestampGreaterThan", "TimestampGreaterThanPath", "TimestampGreaterThanEquals",
	"TimestampGreaterThanEqualsPath", "TimestampLessThan", "TimestampLessThanPath",
	"TimestampLessThanEquals", "TimestampLessThanEqualsPath",
}

func (st *state) compileChoice(f fields) error {
	raw, ok := f.obj["Choices"].([]any)
	if !ok || len(raw) == 0 {
		return f.errf("Choices", "must be a non-empty array")
	}
	for i, v := range raw {
		loc := fmt.Sprintf("Choices[%d]", i)
		obj, ok := v.(map[string]any)
		if !ok {
			return f.errf(loc, "must be an object")
		}
		next, ok := obj["Next"].(string)
		if !ok || next == "" {
			return f.errf(loc+".Next", "is required in a top-level choice rule")
		}
		rest := make(map[string]any, len(obj))
		for k, v := range obj {
			if k != "Next" {
				rest[k] = v
			}
		}
		cond, err := compileCondition(f, loc, rest)
		if err != nil {
			return err
		}
		st.choices = append(st.choices, choiceRule{cond, next})
	}
	if f.has("Default") {
		d, err := f.str("Default", true)
		if err != nil {
			return err
		}
		st.deflt = d
	}
	return nil
}

// compileCondition compiles a rule without its Next: either And with nested rules, or a
// Variable with exactly one supported comparison.
func compileCondition(f fields, loc string, obj map[string]any) (condition, error) {
	if _, hasNext := obj["Next"]; hasNext {
		return nil, f.errf(loc+".Next", "nested choice rules have no Next")
	}
	if sub, ok := obj["And"]; ok {
		if len(obj) != 1 {
			return nil, f.errf(loc, "an And rule has no other fields")
		}
		list, ok := sub.([]any)
		if !ok || len(list) == 0 {
			return nil, f.errf(loc+".And", "must be a non-empty array of rules")
		}
		var and andCond
		for i, s := range list {
			so, ok := s.(map[string]any)
			if !ok {
				return nil, f.errf(fmt.Sprintf("%s.And[%d]", loc, i), "must be an object")
			}
			c, err := compileCondition(f, fmt.Sprintf("%s.And[%d]", loc, i), so)
			if err != nil {
				return nil, err
			}
			and = append(and, c)
		}
		return and, nil
	}
	for _, op := range []string{"Or", "Not"} {
		if _, ok := obj[op]; ok {
			return nil, f.errf(loc+"."+op, "%s is not supported by this interpreter (supported: And, BooleanEquals, IsPresent)", op)
		}
	}
	variable, ok := obj["Variable"].(string)
	if !ok {
		return nil, f.errf(loc+".Variable", "is required (a string path)")
	}
	p, err := parsePath(variable, true)
	if err != nil {
		return nil, f.errf(loc+".Variable", "%v", err)
	}
	var ops []string
	for k := range obj {
		if k != "Variable" {
			ops = append(ops, k)
		}
	}
	if len(ops) != 1 {
		return nil, f.errf(loc, "a rule has exactly one comparison operator, found %d (%s)", len(ops), strings.Join(ops, ", "))
	}
	op := ops[0]
	switch op {
	case "BooleanEquals", "IsPresent":
		b, ok := obj[op].(bool)
		if !ok {
			return nil, f.errf(loc+"."+op, "must be true or false")
		}
		if op == "IsPresent" {
			return isPresentCond{p, b}, nil
		}
		return booleanEqualsCond{p, b}, nil
	}
	for _, known := range comparisonOperators {
		if op == known {
			return nil, f.errf(loc+"."+op, "comparison operator %s is not supported by this interpreter (supported: And, BooleanEquals, IsPresent)", op)
		}
	}
	return nil, f.errf(loc+"."+op, "is not a choice rule field")
}
