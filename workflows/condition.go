package workflows

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Condition is a compiled, type-checked expr expression over Env that yields a bool.
type Condition struct {
	// Source is the expression as the marketer wrote it.
	Source  string
	program *vm.Program
}

// CompileCondition compiles src against Env; the error says what is wrong with it.
func CompileCondition(src string) (*Condition, error) {
	p, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		return nil, err
	}
	return &Condition{Source: src, program: p}, nil
}

// Eval runs the condition. A nil Condition holds.
func (c *Condition) Eval(env Env) (bool, error) {
	if c == nil {
		return true, nil
	}
	out, err := expr.Run(c.program, env)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.Source, err)
	}
	b, _ := out.(bool)
	return b, nil
}

// Expression is a compiled expr expression over Env that yields any value, such as the
// once_per of a trigger.
type Expression struct {
	Source  string
	program *vm.Program
}

// CompileExpression compiles src against Env.
func CompileExpression(src string) (*Expression, error) {
	p, err := expr.Compile(src, expr.Env(Env{}))
	if err != nil {
		return nil, err
	}
	return &Expression{Source: src, program: p}, nil
}

// String evaluates the expression and formats its value; nil or a failed evaluation is "".
func (x *Expression) String(env Env) string {
	if x == nil {
		return ""
	}
	out, err := expr.Run(x.program, env)
	if err != nil || out == nil {
		return ""
	}
	return fmt.Sprint(out)
}
