// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

interface IDeposit {
    function deposit(uint256 amount) external;
}

/// @title ReentrantToken
/// @notice Test-only hostile ERC-20 with a transfer hook (ERC-777 style): during `transferFrom` into
/// the market it calls `market.deposit` once more, so that a balance-delta deposit without a lock
/// would credit the inner deposit twice (issue 14, threat 4). Anyone can mint.
contract ReentrantToken is ERC20 {
    address public market;
    bool private _inHook;

    constructor() ERC20("Hook Token", "HOOK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the hook: the next transfer into `market_` re-enters its `deposit`.
    function arm(address market_) external {
        market = market_;
        _approve(address(this), market_, type(uint256).max);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (to == market && market != address(0) && !_inHook && from != address(this)) {
            _inHook = true;
            // The token itself deposits (it holds a balance): an attacker-controlled token.
            IDeposit(market).deposit(1);
            _inHook = false;
        }
    }
}
