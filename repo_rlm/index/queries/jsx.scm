; JSX (`; inherits: jsx`): an element of a component is a call of it
(jsx_self_closing_element name: (identifier) @callee (#match? @callee "^[A-Z]")) @call
(jsx_opening_element name: (identifier) @callee (#match? @callee "^[A-Z]")) @call
